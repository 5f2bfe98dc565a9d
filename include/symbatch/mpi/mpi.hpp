/// @file mpi.hpp
/// @brief The optional MPI component (CMake target `symbatch::mpi`): data-parallel training
/// across processes, with one extra line in the model code.
///
/// @code
/// symbatch::mpi::Environment mpi(argc, argv);     // MPI_Init ... MPI_Finalize
/// model.set_row_reduction(symbatch::mpi::distributed());
/// const auto result = symbatch::fit(model);         // the same call as on one process
/// @endcode
///
/// Every process builds the same model over the same data (each may map the same file) and
/// computes the same global minibatch draw from the shared seed: no message is needed for the
/// draw. Each process evaluates its contiguous share of the batch's chunks of rows
/// (model/row_reduction.hpp); the chunk partials of the observed terms and of their gradient are
/// then combined across processes. Everything else — priors, Jacobians, ADVI's draws and entropy,
/// the optimizer's step, the stopping rule — is computed once, identically, on every process, so
/// all processes hold the same parameters at every step and stop together.
///
/// - `ReductionMode::exact` (the default): the partials are all-gathered and added in chunk
///   order, so the result is bit-identical for any number of processes and equal to a
///   single-process run with the same `chunk_rows` and seed (`Model::set_row_reduction` without a
///   communicator).
/// - `ReductionMode::fast`: each process adds its own chunks and one MPI_Allreduce adds the
///   processes' sums: one message of P + 2 doubles per process; equal to the exact mode to about
///   1e-15 relative.
///
/// Only rank 0 prints progress (`fit` and `find_map` silence the others); write files from rank 0
/// (`Environment::is_root`). An exception that escapes `main` on any process ends the whole job
/// (the terminate handler prints it and calls MPI_Abort), so a failure never leaves the other
/// processes waiting. An exception thrown while evaluating one process's share of a batch (bad
/// data in its rows) is raised on every process: the failing one raises its own error, the others
/// a `std::runtime_error` saying that another process failed.
#pragma once

#include <mpi.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <span>
#include <vector>

#include "symbatch/core/error.hpp"
#include "symbatch/model/row_reduction.hpp"

namespace symbatch::mpi {

/// @brief MPI for the lifetime of the object: `MPI_Init_thread` (funneled) in the constructor
/// (unless MPI is already initialised), `MPI_Finalize` in the destructor (if it initialised MPI),
/// and a terminate handler that prints the uncaught exception with the rank and aborts the job.
class Environment {
 public:
  Environment(int& argc, char**& argv) {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) {
      int provided = 0;
      MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
      owns_ = true;
    }
    std::set_terminate(&terminate);
  }
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;
  ~Environment() {
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (owns_ && !finalised) MPI_Finalize();
  }
  /// This process's rank in MPI_COMM_WORLD, and the number of processes.
  int rank() const {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return rank;
  }
  int size() const {
    int size = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return size;
  }
  bool is_root() const { return rank() == 0; }

 private:
  [[noreturn]] static void terminate() {
    int rank = -1, initialised = 0;
    MPI_Initialized(&initialised);
    if (initialised) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (const std::exception_ptr error = std::current_exception()) {
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "symbatch::mpi: rank %d: uncaught exception: %s\n", rank, e.what());
      } catch (...) {
        std::fprintf(stderr, "symbatch::mpi: rank %d: uncaught exception of an unknown type\n", rank);
      }
    } else {
      std::fprintf(stderr, "symbatch::mpi: rank %d: std::terminate called\n", rank);
    }
    std::fflush(stderr);
    if (initialised) MPI_Abort(MPI_COMM_WORLD, 1);
    std::abort();
  }
  bool owns_ = false;
};

/// @brief The `ChunkCommunicator` of an MPI communicator (a duplicate of it, so symbatch's
/// messages never mix with the program's own).
class Communicator final : public ChunkCommunicator {
 public:
  explicit Communicator(MPI_Comm comm = MPI_COMM_WORLD) {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) throw_invalid("symbatch::mpi::Communicator", "MPI is not initialised; create a symbatch::mpi::Environment first");
    MPI_Comm_dup(comm, &comm_);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &ranks_);
    counts_.resize(static_cast<std::size_t>(ranks_));
    displacements_.resize(static_cast<std::size_t>(ranks_));
  }
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;
  ~Communicator() override {
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (!finalised) MPI_Comm_free(&comm_);
  }
  int rank() const override { return rank_; }
  int ranks() const override { return ranks_; }
  void allgather(double* values, std::span<const std::int64_t> offsets) const override {
    if (offsets.back() > INT_MAX)
      throw_invalid("symbatch::mpi::Communicator", "the chunk table has ", offsets.back(), " entries, more than MPI's int counts allow; raise chunk_rows");
    for (int r = 0; r < ranks_; ++r) {
      displacements_[static_cast<std::size_t>(r)] = static_cast<int>(offsets[static_cast<std::size_t>(r)]);
      counts_[static_cast<std::size_t>(r)] = static_cast<int>(offsets[static_cast<std::size_t>(r) + 1] - offsets[static_cast<std::size_t>(r)]);
    }
    const double start = MPI_Wtime();
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, values, counts_.data(), displacements_.data(), MPI_DOUBLE, comm_);
    seconds_ += MPI_Wtime() - start;
    ++calls_;
  }
  void allreduce_sum(double* values, std::int64_t count) const override {
    const double start = MPI_Wtime();
    MPI_Allreduce(MPI_IN_PLACE, values, static_cast<int>(count), MPI_DOUBLE, MPI_SUM, comm_);
    seconds_ += MPI_Wtime() - start;
    ++calls_;
  }
  MPI_Comm comm() const { return comm_; }
  /// Wall time spent in this communicator's collectives (waiting for slower processes
  /// included), and their number: the communication share of a step.
  double seconds() const { return seconds_; }
  std::int64_t calls() const { return calls_; }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, ranks_ = 1;
  mutable std::vector<int> counts_, displacements_;  // reused by every all-gather
  mutable double seconds_ = 0;
  mutable std::int64_t calls_ = 0;
};

/// @brief Options of `distributed`.
struct DistributedOptions {
  ReductionMode mode = ReductionMode::exact;
  std::int64_t chunk_rows = 1024;  ///< rows per chunk (see `RowReduction`)
  int threads = 1;                 ///< threads per process
  /// Each process holds only its shard of the rows (see `RowReduction::sharded`).
  bool sharded = false;
  MPI_Comm comm = MPI_COMM_WORLD;
};

/// @brief The row reduction that shares each batch out over the processes of `options.comm`:
/// pass it to `Model::set_row_reduction`.
/// @throws std::invalid_argument when MPI is not initialised.
inline RowReduction distributed(const DistributedOptions& options = {}) {
  return RowReduction{.chunk_rows = options.chunk_rows, .threads = options.threads, .mode = options.mode,
                      .communicator = std::make_shared<Communicator>(options.comm), .sharded = options.sharded};
}

}  // namespace symbatch::mpi
