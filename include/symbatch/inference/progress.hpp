/// @file progress.hpp
/// @brief What a training loop prints while it runs: a live progress line redrawn on a terminal,
/// and a summary line at the end.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace symbatch {

/// @brief What `fit` and `find_map` print while they run.
enum class Progress {
  automatic,  ///< a live progress line when the stream is a terminal, else a final summary line
  live,       ///< a progress line, redrawn a few times a second, and the summary
  summary,    ///< only a final summary line
  none,       ///< nothing
};

namespace detail {

/// Average of the last `count` losses (or all of them); NaN when there are none.
inline double recent_average(const std::vector<double>& losses, std::size_t count = 100) {
  const std::size_t n = std::min(count, losses.size());
  double total = 0;
  for (std::size_t i = losses.size() - n; i < losses.size(); ++i) total += losses[i];
  return n ? total / static_cast<double>(n) : NAN;
}

/// Prints the progress of one training loop (`function` names it: `fit`, `find_map`).
class ProgressPrinter {
 public:
  ProgressPrinter(const char* function, Progress mode, std::FILE* stream, std::int64_t total)
      : function_(function),
        stream_(stream ? stream : stderr),
        live_(mode == Progress::live || (mode == Progress::automatic && isatty(fileno(stream ? stream : stderr)))),
        summary_(mode != Progress::none),
        total_(total),
        start_(std::chrono::steady_clock::now()),
        last_draw_(start_) {}

  /// Redraws the live line (at most five times a second, and at the last iteration).
  void update(std::int64_t done, const std::vector<double>& losses) {
    if (!live_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_draw_ <= std::chrono::milliseconds(200) && done != total_) return;
    last_draw_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    std::fprintf(stream_, "\r%lld/%lld [%3.0f%%] %.0f it/s, average loss %.6g   ", static_cast<long long>(done),
                 static_cast<long long>(total_), 100.0 * static_cast<double>(done) / static_cast<double>(std::max<std::int64_t>(total_, 1)),
                 static_cast<double>(done) / seconds, recent_average(losses));
    std::fflush(stream_);
  }
  /// Ends the live line before an error message is shown.
  void interrupt() {
    if (live_) std::fputc('\n', stream_);
  }
  /// The summary line; `note` (may be empty) says why the loop stopped early.
  void finish(std::int64_t done, const std::vector<double>& losses, const std::string& note) {
    if (!summary_) return;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    std::fprintf(stream_, "%s%s: %lld iterations in %.2f s (%.0f it/s)%s, average loss %.6g over the last %zu\n", live_ ? "\n" : "", function_,
                 static_cast<long long>(done), seconds, seconds > 0 ? static_cast<double>(done) / seconds : 0.0, note.c_str(),
                 recent_average(losses), std::min<std::size_t>(100, losses.size()));
  }

 private:
  const char* function_;
  std::FILE* stream_;
  bool live_, summary_;
  std::int64_t total_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace detail

}  // namespace symbatch
