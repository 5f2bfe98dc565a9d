# Installs symbatch into a fresh prefix, then configures, builds and runs a consumer project
# that finds it with find_package(symbatch CONFIG REQUIRED).
file(REMOVE_RECURSE "${WORK_DIR}")
set(build "${WORK_DIR}/symbatch-build")
set(prefix "${WORK_DIR}/prefix")
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "command failed (${result}): ${ARGV}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()
run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${build} -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX}
    -DSYMBATCH_BUILD_TESTS=OFF -DSYMBATCH_BUILD_EXAMPLES=OFF -DSYMBATCH_BUILD_BENCHMARKS=OFF
    -DCMAKE_INSTALL_PREFIX=${prefix})
run(${CMAKE_COMMAND} --install ${build})
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/package/consumer -B ${WORK_DIR}/consumer-build -G ${GENERATOR}
    -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_PREFIX_PATH=${prefix})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer-build)
run(${WORK_DIR}/consumer-build/consumer)
if(NOT last_output MATCHES "consumer: 6")
  message(FATAL_ERROR "unexpected consumer output: ${last_output}")
endif()
if(EXPECT_MPI AND NOT EXISTS "${WORK_DIR}/consumer-build/consumer_mpi")
  message(FATAL_ERROR "the installed package lacks the MPI component symbatch::mpi")
endif()
