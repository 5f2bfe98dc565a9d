// Measures map_npy against load_npy on a 1 GiB f64 file (issue 15, not part of the tests).
//   g++ -std=c++20 -O2 -Iinclude -I/usr/include/eigen3 bench/npy_map_vs_load.cpp -o /tmp/npy_measure
//   /tmp/npy_measure /tmp/npy_measure.npy
// Writes the file, times each way warm (file in the page cache) and cold (pages dropped with
// posix_fadvise(POSIX_FADV_DONTNEED) first), five runs each, and deletes the file.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "symbatch/io/npy.hpp"

using namespace symbatch;
using Clock = std::chrono::steady_clock;

static void drop_cache(const std::string& path) {
  const int descriptor = ::open(path.c_str(), O_RDONLY);
  ::fdatasync(descriptor);
  ::posix_fadvise(descriptor, 0, 0, POSIX_FADV_DONTNEED);
  ::close(descriptor);
}

static double sum_of(const Array& array) {
  const double* values = array.data<double>();
  double total = 0;
  for (std::int64_t i = 0; i < array.size(); ++i) total += values[i];
  return total;
}

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : "/tmp/npy_measure.npy";
  const std::int64_t rows = (std::int64_t{1} << 30) / 8 / 16, columns = 16;  // 1 GiB of f64
  {
    Array data = Array::empty(DType::f64, Shape{rows, columns});
    for (std::int64_t i = 0; i < data.size(); ++i) data.data<double>()[i] = static_cast<double>(i % 1000);
    const auto start = Clock::now();
    save_npy(path, data);
    std::printf("save_npy: %.3f s\n", std::chrono::duration<double>(Clock::now() - start).count());
  }
  const auto time = [&](const char* what, bool cold, auto&& body) {
    std::vector<double> seconds;
    for (int run = 0; run < 5; ++run) {
      if (cold) drop_cache(path);
      const auto start = Clock::now();
      body();
      seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    }
    std::sort(seconds.begin(), seconds.end());
    std::printf("%-40s %s  median %.4f s  (min %.4f, max %.4f)\n", what, cold ? "cold" : "warm", seconds[2], seconds[0], seconds[4]);
  };
  double sink = 0;
  for (bool cold : {false, true}) {
    time("map_npy", cold, [&] { sink += map_npy(path).size(); });
    time("map_npy + read every element", cold, [&] { sink += sum_of(map_npy(path)); });
    time("map_npy + read one 512-row window", cold, [&] {
      const Array mapped = map_npy(path);
      sink += sum_of(mapped.slice_rows(rows / 2, rows / 2 + 512));
    });
    time("load_npy", cold, [&] { sink += load_npy(path).size(); });
    time("load_npy + read every element", cold, [&] { sink += sum_of(load_npy(path)); });
  }
  std::filesystem::remove(path);
  std::printf("(checksum %g)\n", sink);
}
