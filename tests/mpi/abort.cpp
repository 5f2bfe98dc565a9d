// One process throws and does not catch while the others wait in a collective: the job must end
// (the terminate handler prints the error with the rank and calls MPI_Abort), never hang.
#include <mpi.h>

#include <stdexcept>

#include "symbatch/mpi/mpi.hpp"

int main(int argc, char** argv) {
  symbatch::mpi::Environment environment(argc, argv);
  if (environment.rank() == 1) throw std::invalid_argument("Model::observed: bad input on rank 1");
  MPI_Barrier(MPI_COMM_WORLD);  // the other processes wait here for rank 1, which never comes
  return 0;
}
