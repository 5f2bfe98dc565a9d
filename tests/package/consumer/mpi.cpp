// Builds against the installed MPI component: one process, one distributed reduction.
#include <cstdio>

#include "symbatch/mpi/mpi.hpp"

int main(int argc, char** argv) {
  symbatch::mpi::Environment environment(argc, argv);
  const symbatch::RowReduction reduction = symbatch::mpi::distributed();
  std::printf("consumer_mpi: %d of %d\n", reduction.communicator->rank(), reduction.communicator->ranks());
  return 0;
}
