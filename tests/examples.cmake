# The test suite runs every example at a small size (each example accepts --small).
foreach(example IN LISTS SYMBATCH_EXAMPLES)
  add_test(NAME example.${example} COMMAND ${example} --small --out ${CMAKE_CURRENT_BINARY_DIR}/example-output)
endforeach()
# ... and, in an optimised build, once at full size (1,000,000 rows): each example then judges its
# fit against the exact (or full-data Laplace) posterior, where the posterior sd is ~0.001, and
# fails beyond 0.5 posterior sd (measured: 0.04-0.05 sd, 5-17 s each at -O2).
if(CMAKE_BUILD_TYPE STREQUAL "Release")
  foreach(example IN LISTS SYMBATCH_EXAMPLES)
    if(NOT example STREQUAL "tour")
      add_test(NAME example.${example}.full_size COMMAND ${example} --out ${CMAKE_CURRENT_BINARY_DIR}/example-output)
    endif()
  endforeach()
endif()
# The main example's data through files: written as float32 .npy, then fitted memory-mapped.
if(TARGET linear_regression)
  set(data_directory ${CMAKE_CURRENT_BINARY_DIR}/example-data)
  add_test(NAME example.linear_regression.write_data COMMAND linear_regression --small --write-data ${data_directory} --f32)
  set_tests_properties(example.linear_regression.write_data PROPERTIES FIXTURES_SETUP example_data)
  add_test(NAME example.linear_regression.from_files COMMAND linear_regression --x ${data_directory}/X.npy --y ${data_directory}/y.npy)
  set_tests_properties(example.linear_regression.from_files PROPERTIES FIXTURES_REQUIRED example_data)
endif()
file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/example-output)
add_test(NAME example.out_directory_is_created_or_reported
  COMMAND ${CMAKE_COMMAND} -DEXAMPLE=$<TARGET_FILE:hierarchical> -DNAME=hierarchical -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/out-directory-check
          -P ${CMAKE_CURRENT_SOURCE_DIR}/examples/check_out_directory.cmake)

# The MPI example on two processes (its fit bit-identical to one process is tests/mpi's claim).
if(TARGET linear_regression_mpi AND NOT SYMBATCH_SANITIZED)
  add_test(NAME example.linear_regression_mpi.np2
    COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} 2 --oversubscribe --mca btl_vader_single_copy_mechanism none $<TARGET_FILE:linear_regression_mpi> --small)
  set_tests_properties(example.linear_regression_mpi.np2 PROPERTIES TIMEOUT 600 PROCESSORS 2
    ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
endif()
