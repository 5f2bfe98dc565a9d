// Memory stays flat on a memory-mapped file larger than the working set (issue 15, item 4; a
// measurement, not part of the tests). It writes the main example's data (examples/
// linear_regression.cpp: y = X beta + 0.5 noise, 16 features, beta = linspace(-1, 1, 16)) as two
// .npy files, X of N x 16 f64 (N = 33,554,432: 4 GiB) and y, streamed block by block so the
// program never holds them; maps them with map_npy; and fits the main example's model (Normal
// likelihood with known noise sd 0.5, minibatches of 256, mean-field ADVI) on them.
//
// For each minibatch scheme (circular slice, indices drawn with replacement) and each case below,
// in a child process of its own so that the figures do not mix, it reports:
//   - the time of one logp + gradient step (the compiled function of the README's tour), wall
//     clock and this thread's CPU time: the median of 10 timed blocks (cold cases: also the
//     mean and each block, as the cost falls while the pages come in);
//   - the process's anonymous resident memory (RssAnon of /proc/self/status) before mapping,
//     after mapping, after the model is compiled, after the first block of steps, after all
//     steps (and the largest after any block), and after a fit: it must stay at O(B x D) plus
//     the model whatever N is. RssFile shows the file pages mapped into the process: page cache,
//     which the kernel can drop at any time, not a copy;
//   - major page faults and bytes read from the disk per step (/proc/self/io);
//   - a fit with the main example's options (the defaults: control variate on, so each
//     re-centring reads the whole file once; the default stopping rule and cap): iterations,
//     passes over the data, wall and CPU time, median iteration, and the largest error of the
//     posterior means in exact posterior sds (the exact posterior comes from X'X and X'y,
//     summed while the data are written).
// The cases:
//   in-memory    the first 1,000,000 rows, generated in memory (the main example's size): the
//                reference step;
//   head         the first 1,000,000 rows of the mapped file, warm: mapped pages against
//                anonymous memory at the same N;
//   warm         the whole mapped file, its pages in the page cache. The steps run twice with
//                the same draws: "first touch" maps cached pages into the process (minor
//                faults); the reported step is the second run. Then the same steps again in 50
//                short blocks alternating with an in-memory model of 1,000,000 rows in the same
//                process ("paired"), so that other load on the machine falls on both alike;
//   cold         the whole mapped file after its pages are dropped (madvise(MADV_DONTNEED) on the
//                mapping, then posix_fadvise(POSIX_FADV_DONTNEED)) after the first call (which
//                checks y over all rows): 2,000 steps, with the kernel's default read-around on
//                each page fault; then a fit, the pages dropped again first;
//   cold random  as cold, with the mappings advised MADV_RANDOM, so that each fault reads only
//                its own page: the cost of the rows themselves, as when the file is much larger
//                than memory (no fit).
//
// Build and run (CMake builds it as bench_mapped_memory with the other benchmarks; it has its own
// main and uses no Google Benchmark):
//   g++ -std=c++20 -O2 -DNDEBUG -Iinclude -isystem /usr/include/eigen3 bench/mapped_memory.cpp -o /tmp/mapped_memory
//   /tmp/mapped_memory [DIR] [--rows N] [--keep]
// DIR (default /tmp) receives symbatch_mapped_X.npy and symbatch_mapped_y.npy (4.56 GB at the
// default N), deleted at the end unless --keep is given. When DIR has less free space than the
// files plus 1 GB, the program prints a SKIP line and exits 0. --rows N changes N (for a quick
// trial).
//
// Measured (the shared 2-core development machine under other load, 23 GiB RAM, ext4 on a virtio
// disk with read_ahead_kb 8192, Linux 6.18, GCC 12 -O2; the run of 2026-12-01, 3 min 53 s; two
// earlier runs agree except where a range is given). Step = logp + gradient, B = 256, D = 16:
//                       slice                          indices (with replacement)
//   in-memory, 1e6 rows 9.6 us                         18.9 us
//   mapped head, warm   9.3 us (paired x0.97)          16.4 us (paired x1.02)
//   mapped 4 GiB, warm  11.0 us (paired x1.06)         33.9 us (paired x1.75; x1.20-1.82 over runs)
//   mapped, cold        1.64 ms mean over 2,000 steps  2.33 ms mean (first 200 steps 19.8 ms,
//                       (2.1 MB read per step)         then 0.3 ms: the read-around has pulled
//                                                      the whole file in after 2,000 steps)
//   cold, MADV_RANDOM   0.77 ms (10.4 faults/step)     18.9 ms (235 faults of 4 kB per step)
// RssAnon: 1.4 MB before mapping, after mapping, after compiling, after 20,000 steps, in every
// mapped case (in-memory: 136.4 MB with the 1e6 rows); after a converged fit 8.5-8.7 MB (in-memory
// 2.4 MB above its data): 4.7 MB of it is the full-data pass's table of chunk partials
// (N / 1024 chunks x (P + 2) doubles, model/row_reduction.hpp), which grows with N, 1.2 MB the
// loss history (8 bytes per iteration). RssFile reaches nearly the whole file (4.4 GB) after
// 20,000 warm slice steps, though their windows hold only 15% of the rows: the kernel maps many
// cached pages around each fault. Fit (defaults): 145,000-151,000 iterations, converged, largest
// error 0.04-0.05 posterior sd, 22 passes over the data; 24-34 s warm over the three runs (the 21
// full-data passes of the control variate take most of it, about 1 s per 4.56 GB pass), 28-42 s
// cold (the 4.56 GB read from disk once, then cached).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <Eigen/Cholesky>
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "../examples/support.hpp"
#include "symbatch/distributions/continuous.hpp"
#include "symbatch/inference/advi.hpp"
#include "symbatch/io/npy.hpp"
#include "symbatch/minibatch/minibatch.hpp"
#include "symbatch/model/model.hpp"
#include "symbatch/ops/blas.hpp"

namespace {

using namespace symbatch;
using Clock = std::chrono::steady_clock;

constexpr std::int64_t features = 16, batch_size = 256;
constexpr double noise_sd = 0.5;
constexpr std::int64_t in_memory_rows = 1'000'000;
/// Rows generated from one Philox stream: any block can be generated alone, so the in-memory
/// case regenerates exactly the file's first rows.
constexpr std::int64_t block_rows = 65'536;
constexpr int timed_blocks = 10;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

struct Settings {
  std::string directory = "/tmp";
  std::int64_t rows = 33'554'432;  // 4 GiB of X
  bool keep = false;
  std::int64_t warm_steps = 20'000, cold_steps = 2'000;
  std::string x_path() const { return directory + "/symbatch_mapped_X.npy"; }
  std::string y_path() const { return directory + "/symbatch_mapped_y.npy"; }
};

// ---- What the process holds and reads --------------------------------------------------------

/// RssAnon and RssFile of /proc/self/status, in MB.
struct Resident {
  double anon = 0, file = 0;
};

Resident resident() {
  std::ifstream status("/proc/self/status");
  Resident result;
  for (std::string line; std::getline(status, line);) {
    const auto megabytes = [&] { return std::stod(line.substr(line.find(':') + 1)) * 1024 / 1e6; };  // the file says kB
    if (line.starts_with("RssAnon:")) result.anon = megabytes();
    if (line.starts_with("RssFile:")) result.file = megabytes();
  }
  return result;
}

/// Major page faults so far and bytes this process has had read from storage (/proc/self/io).
struct DiskReads {
  long major_faults = 0;
  double bytes = 0;
};

DiskReads disk_reads() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  DiskReads result{usage.ru_majflt, 0};
  std::ifstream io("/proc/self/io");
  for (std::string line; std::getline(io, line);)
    if (line.starts_with("read_bytes:")) result.bytes = std::stod(line.substr(11));
  return result;
}

/// `madvise` over the pages of a mapped array.
void advise(const Array& mapped, int advice) {
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto address = reinterpret_cast<std::uintptr_t>(mapped.raw_data());
  const std::uintptr_t start = address & ~(page - 1);
  if (::madvise(reinterpret_cast<void*>(start), address + mapped.bytes() - start, advice) != 0) std::perror("madvise");
}

/// Drops the pages of a mapped file: from this process's page tables (madvise), then from the
/// page cache (posix_fadvise skips pages that a process still maps), so the next reads of them
/// go to the disk.
void drop_pages(const Array& mapped, const std::string& path) {
  advise(mapped, MADV_DONTNEED);
  const int descriptor = ::open(path.c_str(), O_RDONLY);
  if (descriptor < 0 || ::posix_fadvise(descriptor, 0, 0, POSIX_FADV_DONTNEED) != 0) std::perror("posix_fadvise");
  if (descriptor >= 0) ::close(descriptor);
}

/// Reads a file through the page cache without mapping it, so its pages are cached.
void read_through(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::vector<char> buffer(std::size_t{1} << 20);
  while (file.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || file.gcount() > 0) {
  }
}

// ---- The data ---------------------------------------------------------------------------------

/// `count` rows of block `block`: X rows of standard normals and y = X beta + 0.5 noise, from
/// the Philox stream keyed by the block.
void generate_block(std::int64_t block, std::int64_t count, const std::vector<double>& beta, double* x, double* y) {
  PhiloxStream stream(seed_rng_state(2026, static_cast<std::uint64_t>(block)));
  for (std::int64_t i = 0; i < count; ++i) {
    double mean = 0;
    for (std::int64_t j = 0; j < features; ++j) {
      x[i * features + j] = stream.normal();
      mean += x[i * features + j] * beta[static_cast<std::size_t>(j)];
    }
    y[i] = mean + noise_sd * stream.normal();
  }
}

/// The first `rows` rows, in memory.
std::pair<Array, Array> generate_in_memory(std::int64_t rows, const std::vector<double>& beta) {
  Array x = Array::empty(DType::f64, Shape{rows, features}), y = Array::empty(DType::f64, Shape{rows});
  for (std::int64_t first = 0; first < rows; first += block_rows)
    generate_block(first / block_rows, std::min(block_rows, rows - first), beta, x.data<double>() + first * features, y.data<double>() + first);
  return {std::move(x), std::move(y)};
}

/// Sums X'X and X'y of the rows seen, for the exact posterior.
struct NormalEquations {
  Eigen::MatrixXd gram = Eigen::MatrixXd::Zero(features, features);
  Eigen::VectorXd moment = Eigen::VectorXd::Zero(features);

  void add(const double* x, const double* y, std::int64_t rows) {
    const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> data(x, rows, features);
    gram.selfadjointView<Eigen::Lower>().rankUpdate(data.transpose());
    moment += data.transpose() * Eigen::Map<const Eigen::VectorXd>(y, rows);
  }
};

/// The exact posterior of beta ~ Normal(0, 1), y ~ Normal(X beta, 0.5): its means and sds.
struct Posterior {
  Eigen::VectorXd mean, sd;
};

Posterior exact_posterior(const NormalEquations& sums) {
  Eigen::MatrixXd precision = sums.gram.selfadjointView<Eigen::Lower>();
  precision /= noise_sd * noise_sd;
  precision.diagonal().array() += 1.0;
  const Eigen::LLT<Eigen::MatrixXd> factor(precision);
  const Eigen::MatrixXd covariance = factor.solve(Eigen::MatrixXd::Identity(features, features));
  return {factor.solve(sums.moment / (noise_sd * noise_sd)), covariance.diagonal().cwiseSqrt()};
}

/// Writes X.npy and y.npy block by block (header, then the rows), never holding more than a
/// block, and returns the exact posteriors of the whole data and of the first 1,000,000 rows.
std::pair<Posterior, Posterior> write_data(const Settings& settings, const std::vector<double>& beta) {
  std::ofstream x_file(settings.x_path(), std::ios::binary), y_file(settings.y_path(), std::ios::binary);
  if (!x_file || !y_file) throw std::runtime_error("cannot create the data files in " + settings.directory + ": " + std::strerror(errno));
  const std::string x_header = detail::npy_preamble_and_header("<f8", Shape{settings.rows, features});
  const std::string y_header = detail::npy_preamble_and_header("<f8", Shape{settings.rows});
  x_file.write(x_header.data(), static_cast<std::streamsize>(x_header.size()));
  y_file.write(y_header.data(), static_cast<std::streamsize>(y_header.size()));
  std::vector<double> x(static_cast<std::size_t>(block_rows * features)), y(static_cast<std::size_t>(block_rows));
  NormalEquations all, head;
  for (std::int64_t first = 0; first < settings.rows; first += block_rows) {
    const std::int64_t count = std::min(block_rows, settings.rows - first);
    generate_block(first / block_rows, count, beta, x.data(), y.data());
    all.add(x.data(), y.data(), count);
    if (first < in_memory_rows) head.add(x.data(), y.data(), std::min(count, in_memory_rows - first));
    x_file.write(reinterpret_cast<const char*>(x.data()), static_cast<std::streamsize>(count * features * 8));
    y_file.write(reinterpret_cast<const char*>(y.data()), static_cast<std::streamsize>(count * 8));
  }
  x_file.close();
  y_file.close();
  if (!x_file || !y_file) throw std::runtime_error("writing the data files in " + settings.directory + " failed: " + std::strerror(errno));
  return {exact_posterior(all), exact_posterior(head)};
}

// ---- One case ---------------------------------------------------------------------------------

enum class Source { in_memory, mapped_head, mapped };

/// The state of the file's pages when the timed steps start.
enum class Cache {
  warm,         ///< in the page cache
  cold,         ///< dropped; the kernel's default read-around on each fault
  cold_random,  ///< dropped, and the mapping advised MADV_RANDOM: each fault reads only its page
};

struct Case {
  Source source;
  MinibatchScheme scheme;
  Cache cache = Cache::warm;
};

/// Time per step, in microseconds.
struct StepTime {
  double wall_us = 0, cpu_us = 0;
};

/// What a child process measured (plain data, sent back through a pipe).
struct Measured {
  std::int64_t steps = 0;
  Resident before, data, compiled, after_steps, after_fit;
  double anon_first_block = 0, anon_most = 0;
  std::array<double, timed_blocks> block_wall_us{};  // of the last timed run
  double mean_wall_us = 0;                           // of the last timed run
  double first_call_ms = 0;
  StepTime first_touch, step;
  StepTime paired_mapped, paired_memory;  // warm mapped cases
  double paired_cpu_ratio = 0, paired_wall_ratio = 0;
  double major_faults_per_step = 0, disk_kb_per_step = 0;
  std::int64_t fit_iterations = 0;
  bool fit_converged = false;
  double fit_passes = 0, fit_seconds = 0, fit_cpu_seconds = 0, fit_iteration_us = 0, fit_error_sd = 0, fit_disk_mb = 0;
};

/// The main example's model (examples/linear_regression.cpp) over X and y.
Model regression_model(const Array& x, const Array& y, MinibatchScheme scheme) {
  const std::vector<Variable> batch = minibatch(batch_size, {shared(x, "X"), shared(y, "y")}, {.scheme = scheme});
  Model model;
  const Variable beta = model.free("beta", Normal(0.0, 1.0), {.shape = {features}});
  model.observed("y", Normal(matmul(batch[0], beta), noise_sd), batch[1], TotalSize(x.shape()[0]));
  return model;
}

/// The median of iteration times counted in bins of 0.25 us: a fixed 32 kB, so that recording
/// them adds nothing to the resident memory being measured.
class IterationTimes {
 public:
  void record(double microseconds) {
    ++bins_[std::min(static_cast<std::size_t>(microseconds / bin_width), bins_.size() - 1)];
    ++count_;
  }
  double median() const {
    std::int64_t seen = 0;
    for (std::size_t k = 0; k < bins_.size(); ++k)
      if ((seen += bins_[k]) * 2 >= count_) return (static_cast<double>(k) + 0.5) * bin_width;
    return 0;
  }

 private:
  static constexpr double bin_width = 0.25;
  std::array<std::int32_t, 8000> bins_{};
  std::int64_t count_ = 0;
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

double thread_cpu_seconds() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

/// Time per step of `calls` calls: wall clock, and this thread's CPU time (user and system).
/// Other work on the machine inflates the wall time, not the CPU time; waiting for the disk
/// counts in the wall time only.
StepTime time_block(Function& step, const std::vector<Array>& point, std::int64_t calls) {
  const auto start = Clock::now();
  const double cpu_start = thread_cpu_seconds();
  for (std::int64_t k = 0; k < calls; ++k)
    if (!std::isfinite(step(point)[0].item())) throw std::runtime_error("the log-probability is not finite");
  return {1e6 * seconds_since(start) / static_cast<double>(calls), 1e6 * (thread_cpu_seconds() - cpu_start) / static_cast<double>(calls)};
}

/// The median wall time and the median CPU time of blocks (each taken on its own).
StepTime median(const std::vector<StepTime>& blocks) {
  std::vector<double> wall, cpu;
  for (const StepTime& block : blocks) wall.push_back(block.wall_us), cpu.push_back(block.cpu_us);
  return {median(wall), median(cpu)};
}

/// Runs `steps` calls in `timed_blocks` blocks; returns the median block's time per step and
/// records RssAnon after the first block and the most after any block.
StepTime time_steps(Function& step, const std::vector<Array>& point, std::int64_t steps, Measured& measured) {
  std::vector<StepTime> blocks;
  measured.mean_wall_us = 0;
  for (int block = 0; block < timed_blocks; ++block) {
    blocks.push_back(time_block(step, point, steps / timed_blocks));
    measured.block_wall_us[static_cast<std::size_t>(block)] = blocks.back().wall_us;
    measured.mean_wall_us += blocks.back().wall_us / timed_blocks;
    const double anon = resident().anon;
    if (measured.anon_first_block == 0) measured.anon_first_block = anon;  // the first block of the first run
    measured.anon_most = std::max(measured.anon_most, anon);
  }
  return median(blocks);
}

/// Times two step functions in alternating short blocks (the order swapped every pair), so that
/// the machine's other load falls on both alike: the median time per step of each, and the
/// median of the pairs' ratios.
void time_paired(Function& mapped, Function& memory, const std::vector<Array>& point, std::int64_t steps, Measured& measured) {
  constexpr int pairs = 50;
  std::vector<StepTime> mapped_blocks, memory_blocks;
  std::vector<double> cpu_ratios, wall_ratios;
  for (int k = 0; k < pairs; ++k) {
    const StepTime first = time_block(k % 2 == 0 ? mapped : memory, point, steps / pairs);
    const StepTime second = time_block(k % 2 == 0 ? memory : mapped, point, steps / pairs);
    mapped_blocks.push_back(k % 2 == 0 ? first : second);
    memory_blocks.push_back(k % 2 == 0 ? second : first);
    cpu_ratios.push_back(mapped_blocks.back().cpu_us / memory_blocks.back().cpu_us);
    wall_ratios.push_back(mapped_blocks.back().wall_us / memory_blocks.back().wall_us);
  }
  measured.paired_mapped = median(mapped_blocks);
  measured.paired_memory = median(memory_blocks);
  measured.paired_cpu_ratio = median(cpu_ratios);
  measured.paired_wall_ratio = median(wall_ratios);
}

/// The logp + gradient of a model as one compiled function, as in the README's tour.
Function step_function(const Model& model) {
  const Variable logp = model.logp();
  std::vector<Variable> outputs{logp};
  for (const Variable& gradient : grad(logp, model.value_variables())) outputs.push_back(gradient);
  return compile(model.value_variables(), outputs, {.seed = 7});
}

Measured run_case(const Case& which, const Settings& settings, const std::vector<double>& beta, const Posterior& exact) {
  Measured measured;
  measured.before = resident();
  Array x, y;
  if (which.source == Source::in_memory) {
    std::tie(x, y) = generate_in_memory(in_memory_rows, beta);
  } else {
    x = map_npy(settings.x_path());
    y = map_npy(settings.y_path());
    if (which.source == Source::mapped_head) {
      x = x.slice_rows(0, in_memory_rows);
      y = y.slice_rows(0, in_memory_rows);
    }
  }
  measured.data = resident();
  const bool mapped = which.source != Source::in_memory;
  const auto drop = [&] {
    if (!mapped) return;
    drop_pages(x, settings.x_path());
    drop_pages(y, settings.y_path());
  };

  const Model model = regression_model(x, y, which.scheme);
  Function step = step_function(model);
  std::vector<Array> point{Array::empty(DType::f64, Shape{features})};
  for (std::int64_t j = 0; j < features; ++j) point[0].data<double>()[j] = beta[static_cast<std::size_t>(j)] + 0.01;
  measured.compiled = resident();

  // The first call also checks y's support over all its rows (once per array).
  auto start = Clock::now();
  step(point);
  measured.first_call_ms = 1e3 * seconds_since(start);
  step.reseed(7);
  const bool cold = which.cache != Cache::warm;
  measured.steps = cold ? settings.cold_steps : settings.warm_steps;
  if (cold) {
    drop();
    if (which.cache == Cache::cold_random) {
      advise(x, MADV_RANDOM);
      advise(y, MADV_RANDOM);
    }
  } else {
    measured.first_touch = time_steps(step, point, measured.steps, measured);
    step.reseed(7);  // the same draws again: every page they touch is now mapped
  }
  const DiskReads disk_before = disk_reads();
  measured.step = time_steps(step, point, measured.steps, measured);
  const DiskReads disk_after = disk_reads();
  measured.major_faults_per_step = static_cast<double>(disk_after.major_faults - disk_before.major_faults) / static_cast<double>(measured.steps);
  measured.disk_kb_per_step = (disk_after.bytes - disk_before.bytes) / 1e3 / static_cast<double>(measured.steps);
  measured.after_steps = resident();

  // A fit with the main example's options (default cap and stopping rule); the time of each
  // iteration from a callback.
  if (which.source != Source::mapped_head && which.cache != Cache::cold_random) {
    if (cold) drop();
    IterationTimes times;
    Clock::time_point previous;
    const Callback stamp = [&](const FitState& state) {
      const auto now = Clock::now();
      if (state.iteration() > 0) times.record(1e6 * std::chrono::duration<double>(now - previous).count());
      previous = now;
      return true;
    };
    const double disk_start = disk_reads().bytes;
    start = Clock::now();
    const double cpu_start = thread_cpu_seconds();
    const FitResult result = fit(model, {.seed = 1, .progress = Progress::none}, {stamp});
    measured.fit_seconds = seconds_since(start);
    measured.fit_cpu_seconds = thread_cpu_seconds() - cpu_start;
    measured.fit_disk_mb = (disk_reads().bytes - disk_start) / 1e6;
    measured.fit_iteration_us = times.median();
    measured.fit_iterations = result.iterations;
    measured.fit_converged = result.converged;
    measured.fit_passes = result.passes;
    const Array mean = result.approximation.moments().at("beta").mean;
    for (std::int64_t j = 0; j < features; ++j)
      measured.fit_error_sd = std::max(measured.fit_error_sd, std::abs(mean.flat<double>(j) - exact.mean[j]) / exact.sd[j]);
    measured.after_fit = resident();
  }

  // Warm: the same steps again, in blocks alternating with the same model over 1,000,000 rows
  // generated in memory (after every memory reading above, as they add their 136 MB).
  if (mapped && !cold) {
    const auto [memory_x, memory_y] = generate_in_memory(in_memory_rows, beta);
    const Model memory_model = regression_model(memory_x, memory_y, which.scheme);
    Function memory_step = step_function(memory_model);
    memory_step(point);  // its first call checks y
    memory_step.reseed(7);
    step.reseed(7);
    time_paired(step, memory_step, point, measured.steps, measured);
  }
  return measured;
}

/// Runs one case in a child process (so that its resident memory is its own) and returns what
/// it measured; throws if the child fails.
Measured in_child(const Case& which, const Settings& settings, const std::vector<double>& beta, const Posterior& exact) {
  int channel[2];
  if (::pipe(channel) != 0) throw std::runtime_error("pipe failed");
  std::fflush(stdout);
  const pid_t child = ::fork();
  if (child < 0) throw std::runtime_error("fork failed");
  if (child == 0) {
    ::close(channel[0]);
    int code = 0;
    try {
      const Measured measured = run_case(which, settings, beta, exact);
      code = ::write(channel[1], &measured, sizeof measured) == static_cast<::ssize_t>(sizeof measured) ? 0 : 1;
    } catch (const std::exception& error) {
      std::fprintf(stderr, "mapped_memory: %s\n", error.what());
      code = 1;
    }
    ::close(channel[1]);
    std::fflush(stdout);
    ::_exit(code);
  }
  ::close(channel[1]);
  Measured measured;
  const ::ssize_t got = ::read(channel[0], &measured, sizeof measured);
  ::close(channel[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (got != static_cast<::ssize_t>(sizeof measured) || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("a measurement's child process failed");
  return measured;
}

// ---- Report -----------------------------------------------------------------------------------

const char* scheme_label(MinibatchScheme scheme) { return scheme == MinibatchScheme::circular_slice ? "slice" : "indices"; }

void print_case(const char* label, const Case& which, const Measured& measured, const Measured* in_memory) {
  std::printf("%s %s: step %.2f us wall, %.2f us CPU", label, scheme_label(which.scheme), measured.step.wall_us, measured.step.cpu_us);
  if (in_memory)
    std::printf(" (in-memory process %.2f / %.2f us, x%.2f wall, x%.2f CPU)", in_memory->step.wall_us, in_memory->step.cpu_us,
                measured.step.wall_us / in_memory->step.wall_us, measured.step.cpu_us / in_memory->step.cpu_us);
  if (measured.paired_cpu_ratio > 0)
    std::printf("; paired with in-memory blocks in this process: %.2f against %.2f us CPU, x%.2f CPU, x%.2f wall", measured.paired_mapped.cpu_us,
                measured.paired_memory.cpu_us, measured.paired_cpu_ratio, measured.paired_wall_ratio);
  if (measured.first_touch.wall_us > 0) std::printf("; first touch %.2f / %.2f us", measured.first_touch.wall_us, measured.first_touch.cpu_us);
  if (measured.major_faults_per_step > 0) {
    std::printf("; mean %.2f us, blocks of %lld steps:", measured.mean_wall_us, static_cast<long long>(measured.steps / timed_blocks));
    for (const double block : measured.block_wall_us) std::printf(" %.0f", block);
  }
  std::printf("; first call %.1f ms; %lld steps, %.2f major faults and %.1f kB from disk per step\n", measured.first_call_ms,
              static_cast<long long>(measured.steps), measured.major_faults_per_step, measured.disk_kb_per_step);
  std::printf("    RssAnon before %.1f MB, with data %.1f MB, compiled %.1f MB, after first block %.1f MB, after steps %.1f MB (most %.1f MB)",
              measured.before.anon, measured.data.anon, measured.compiled.anon, measured.anon_first_block, measured.after_steps.anon,
              measured.anon_most);
  std::printf("; RssFile with data %.1f MB, after steps %.1f MB\n", measured.data.file, measured.after_steps.file);
  if (measured.fit_iterations == 0) {
    std::fflush(stdout);
    return;
  }
  std::printf("    fit: %lld iterations (%s), %.1f passes over the data, %.1f s (%.1f s CPU, %.0f MB from disk), median iteration %.2f us, largest error %.2f posterior sd;"
              " RssAnon after fit %.1f MB, RssFile %.1f MB\n",
              static_cast<long long>(measured.fit_iterations), measured.fit_converged ? "converged" : "cap", measured.fit_passes, measured.fit_seconds,
              measured.fit_cpu_seconds, measured.fit_disk_mb, measured.fit_iteration_us, measured.fit_error_sd, measured.after_fit.anon, measured.after_fit.file);
  std::fflush(stdout);
}

/// One line per case: the step against the in-memory one, and the memory figures.
void print_summary_line(const char* label, const Case& which, const Measured& measured, const Measured& in_memory) {
  const char* cache = which.source == Source::in_memory ? "" : which.cache == Cache::warm ? " warm" : which.cache == Cache::cold ? " cold" : " cold random";
  const bool cold = which.cache != Cache::warm;
  const double step = cold ? measured.mean_wall_us : measured.step.wall_us;
  std::printf("%s %s%s: step %.2f us", label, scheme_label(which.scheme), cache, step);
  if (which.source != Source::in_memory) {
    std::printf(" (%sin-memory %.2f us, x%.2f", cold ? "mean of the blocks; " : "", in_memory.step.wall_us, step / in_memory.step.wall_us);
    if (cold) std::printf("; median block %.2f us", measured.step.wall_us);
    if (measured.paired_cpu_ratio > 0) std::printf("; paired x%.2f CPU", measured.paired_cpu_ratio);
    std::printf(")");
  }
  std::printf("; RssAnon before %.1f MB, with data %.1f MB, after steps %.1f MB", measured.before.anon, measured.data.anon, measured.after_steps.anon);
  if (measured.fit_iterations > 0) std::printf(", after fit %.1f MB", measured.after_fit.anon);
  std::printf("; RssFile after steps %.0f MB\n", measured.after_steps.file);
}

int run(const Settings& settings) {
  const double x_bytes = static_cast<double>(detail::npy_preamble_and_header("<f8", Shape{settings.rows, features}).size()) +
                         static_cast<double>(settings.rows * features * 8);
  const double y_bytes = static_cast<double>(detail::npy_preamble_and_header("<f8", Shape{settings.rows}).size()) +
                         static_cast<double>(settings.rows * 8);
  const double needed = x_bytes + y_bytes + 1e9;
  const double available = static_cast<double>(std::filesystem::space(settings.directory).available);
  if (available < needed) {
    std::printf("SKIP mapped_memory: %s has %.2f GB free, but the data files need %.2f GB plus a 1 GB margin\n", settings.directory.c_str(),
                available / 1e9, (x_bytes + y_bytes) / 1e9);
    return 0;
  }
  if (settings.rows < in_memory_rows) throw std::invalid_argument("--rows must be at least 1,000,000 (the in-memory case's rows)");
  const std::vector<double> beta = example::true_coefficients(features);

  auto start = Clock::now();
  const auto [exact_all, exact_head] = write_data(settings, beta);
  const double write_seconds = seconds_since(start);
  std::printf("data: %lld rows x %lld features, X %.2f GB and y %.2f GB in %s, written in %.1f s (%.0f MB/s)\n",
              static_cast<long long>(settings.rows), static_cast<long long>(features), x_bytes / 1e9, y_bytes / 1e9, settings.directory.c_str(),
              write_seconds, (x_bytes + y_bytes) / 1e6 / write_seconds);
  start = Clock::now();
  read_through(settings.x_path());
  read_through(settings.y_path());
  std::printf("read through the page cache in %.1f s; batches of %lld rows\n", seconds_since(start), static_cast<long long>(batch_size));

  struct Row {
    const char* label;
    Case which;
    Measured measured, in_memory;
  };
  std::vector<Row> rows;
  for (const MinibatchScheme scheme : {MinibatchScheme::circular_slice, MinibatchScheme::with_replacement}) {
    const Case memory{Source::in_memory, scheme};
    const Measured in_memory = in_child(memory, settings, beta, exact_head);
    print_case("IN-MEMORY (N = 1,000,000)", memory, in_memory, nullptr);
    rows.push_back({"IN-MEMORY", memory, in_memory, in_memory});
    const std::pair<const char*, Case> mapped_cases[] = {{"MAPPED head (N = 1,000,000)", {Source::mapped_head, scheme}},
                                                         {"MAPPED", {Source::mapped, scheme}},
                                                         {"MAPPED", {Source::mapped, scheme, Cache::cold}},
                                                         {"MAPPED", {Source::mapped, scheme, Cache::cold_random}}};
    for (const auto& [label, which] : mapped_cases) {
      const Measured measured = in_child(which, settings, beta, which.source == Source::mapped_head ? exact_head : exact_all);
      const std::string long_label = std::string(label) + (which.cache == Cache::warm ? " warm" : which.cache == Cache::cold ? " cold" : " cold random");
      print_case(long_label.c_str(), which, measured, &in_memory);
      rows.push_back({which.source == Source::mapped_head ? "MAPPED-HEAD" : "MAPPED", which, measured, in_memory});
    }
    // The cold cases left most of the file out of the cache; the next scheme's warm cases need it.
    read_through(settings.x_path());
    read_through(settings.y_path());
  }
  std::printf("summary (step: wall time of logp + gradient, the median block, the mean for cold cases; RssAnon is what the process holds, RssFile the file pages it maps):\n");
  for (const Row& row : rows) print_summary_line(row.label, row.which, row.measured, row.in_memory);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument == "--keep") settings.keep = true;
    else if (argument == "--rows" && i + 1 < argc) settings.rows = std::stoll(argv[++i]);
    else if (!argument.starts_with("--")) settings.directory = argument;
    else {
      std::cerr << "usage: mapped_memory [DIR] [--rows N] [--keep]\n";
      return 2;
    }
  }
  int code = 1;
  try {
    code = run(settings);
  } catch (const std::exception& error) {
    std::cerr << "mapped_memory: " << error.what() << "\n";
  }
  if (!settings.keep) {
    std::error_code ignored;
    std::filesystem::remove(settings.x_path(), ignored);
    std::filesystem::remove(settings.y_path(), ignored);
  }
  return code;
}
