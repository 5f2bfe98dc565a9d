// Memory of a training run on the benchmark workload (N = 1,000,000 rows x 16 features, f64):
// the data are held once, and a step adds only O(B x D) working memory. For each scheme it
// generates the data, fits the linear model by ADVI for 2,000 steps of B = 1024 rows, and
// prints one line:
//   MEMORY <slice|indices> B=1024 data <MB> MB, resident before training <MB> MB,
//          peak <MB> MB, working memory <MB> MB (<multiple> x B x D x 8 bytes)
// Each scheme runs in a child process of its own, so peaks do not mix.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "symbatch/distributions/continuous.hpp"
#include "symbatch/inference/advi.hpp"
#include "symbatch/ops/blas.hpp"

namespace {

using namespace symbatch;

constexpr std::int64_t rows = 1'000'000, features = 16, batch_size = 1024;

double resident_mb() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / 1e6;
}

double peak_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) * 1024 / 1e6;  // ru_maxrss is in KiB on Linux
}

void run(MinibatchScheme scheme, const char* name) {
  PhiloxStream stream(seed_rng_state(2024, 0));
  Array x = Array::empty(DType::f64, Shape{rows, features});
  Array y = Array::empty(DType::f64, Shape{rows});
  for (std::int64_t i = 0; i < rows; ++i) {
    double mean = 0;
    for (std::int64_t j = 0; j < features; ++j) {
      x.data<double>()[i * features + j] = stream.normal();
      mean += x.data<double>()[i * features + j] * (-1.0 + 2.0 * static_cast<double>(j) / (features - 1));
    }
    y.data<double>()[i] = mean + 0.5 * stream.normal();
  }
  const double data_mb = static_cast<double>((rows * features + rows) * 8) / 1e6;
  const double before = resident_mb();

  const auto batch = minibatch(batch_size, {shared(x, "X"), shared(y, "y")}, {.scheme = scheme});
  Model model;
  const Variable beta = model.free("beta", Normal(0.0, 1.0), {.shape = {features}});
  const Variable sigma = model.free("sigma", HalfNormal(1.0));
  model.observed("y", Normal(matmul(batch[0], beta), sigma), batch[1], TotalSize(rows));
  fit(model, {.max_iterations = 2000, .optimizer = Adam{.learning_rate = 0.01}, .progress = Progress::none});

  const double peak = peak_mb(), working = peak - before;
  const double unit = static_cast<double>(batch_size * features * 8) / 1e6;
  std::printf("MEMORY %s B=%lld data %.1f MB, resident before training %.1f MB, peak %.1f MB, working memory %.1f MB (%.1f x B x D x 8 bytes)\n",
              name, static_cast<long long>(batch_size), data_mb, before, peak, working, working / unit);
}

}  // namespace

int main() {
  const std::pair<MinibatchScheme, const char*> cases[] = {{MinibatchScheme::circular_slice, "slice"},
                                                           {MinibatchScheme::with_replacement, "indices"}};
  for (const auto& [scheme, name] : cases) {
    std::fflush(stdout);
    const pid_t child = fork();
    if (child == 0) {
      run(scheme, name);
      std::fflush(stdout);
      _exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
  }
}
