// The main example's model trained data-parallel on MPI: every process builds the same model over
// the same data, evaluates its share of each batch's rows, and the partial sums are combined in a
// fixed order, so the fit is bit-identical for any number of processes (and to one process).
//
//   mpiexec -n 2 linear_regression_mpi [--small] [--batch B] [--fast] [--threads T]
//
// --small uses 20,000 rows (the test suite runs it that way), else 1,000,000; --batch sets the
// minibatch size (256); --fast uses MPI_Allreduce instead of the exact all-gather; --threads sets
// threads per process (1). Only rank 0 prints. The fit is compared with the exact posterior.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "../reference.hpp"
#include "../support.hpp"
#include "symbatch/distributions/continuous.hpp"
#include "symbatch/inference/advi.hpp"
#include "symbatch/model/model.hpp"
#include "symbatch/mpi/mpi.hpp"
#include "symbatch/ops/blas.hpp"

using namespace symbatch;

int main(int argc, char** argv) {
  mpi::Environment environment(argc, argv);  // MPI for the life of main; an uncaught error ends the job
  bool small = false;
  std::int64_t batch_size = 256;
  mpi::DistributedOptions distributed{.chunk_rows = 64};
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--small") == 0) small = true;
    else if (std::strcmp(argv[i], "--fast") == 0) distributed.mode = ReductionMode::fast;
    else if (std::strcmp(argv[i], "--batch") == 0 && i + 1 < argc) batch_size = std::atoll(argv[++i]);
    else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) distributed.threads = std::atoi(argv[++i]);
    else {
      if (environment.is_root()) std::fprintf(stderr, "usage: linear_regression_mpi [--small] [--batch B] [--fast] [--threads T]\n");
      return 2;
    }
  }
  const std::int64_t rows = small ? 20'000 : 1'000'000;
  const std::vector<double> beta_true = example::true_coefficients(16);
  // The same generated data on every process (each could instead map the same .npy file).
  const auto [x_data, y_data] =
      example::regression_data(rows, beta_true, 2026, [](double mean, PhiloxStream& stream) { return mean + 0.5 * stream.normal(); });

  const std::vector<Variable> batch = minibatch(batch_size, {shared(x_data, "X"), shared(y_data, "y")});
  Model model;
  const Variable beta = model.free("beta", Normal(0.0, 1.0), {.shape = {16}});
  model.observed("y", Normal(matmul(batch[0], beta), 0.5), batch[1], TotalSize(rows));
  model.set_row_reduction(mpi::distributed(distributed));  // the one line that distributes the fit

  const auto start = std::chrono::steady_clock::now();
  const FitResult result = fit(model, {.seed = 1});  // progress on rank 0 only
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto& communicator = dynamic_cast<const mpi::Communicator&>(*model.row_reduction()->communicator);
  const auto steps = static_cast<double>(result.loss_history.size());

  const example::Posterior exact = example::linear_regression_posterior(x_data, y_data, 0.5, 1.0);
  const auto moments = result.approximation.moments();
  if (environment.is_root()) {
    std::printf("mean-field ADVI on %d processes (%s mode, %d thread%s each): %lld rows, batches of %lld, %lld iterations (%s)\n",
                environment.size(), distributed.mode == ReductionMode::exact ? "exact" : "fast", distributed.threads,
                distributed.threads == 1 ? "" : "s", static_cast<long long>(rows), static_cast<long long>(batch_size),
                static_cast<long long>(steps), result.converged ? "converged" : "not converged: the cap was reached");
    std::printf("%.1f us per iteration, of which %.1f us in MPI calls (%.0f per iteration)\n", 1e6 * seconds / steps,
                1e6 * communicator.seconds() / steps, static_cast<double>(communicator.calls()) / steps);
    example::print_comparison_header();
  }
  const double worst = example::compare("beta", moments.at("beta").mean, moments.at("beta").sd, exact, 0, environment.is_root() ? 16 : 0);
  if (environment.is_root()) std::printf("largest error: %.2f posterior sd\n", worst);
  if (worst > 0.5) {
    if (environment.is_root()) std::fprintf(stderr, "the fit is off: a mean is %.2f posterior sd from the exact posterior mean\n", worst);
    return 1;
  }
  return 0;
}
