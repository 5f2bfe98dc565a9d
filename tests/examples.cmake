# The test suite runs every example at a small size (each example accepts --small).
foreach(example IN LISTS SYMBATCH_EXAMPLES)
  add_test(NAME example.${example} COMMAND ${example} --small --out ${CMAKE_CURRENT_BINARY_DIR}/example-output)
endforeach()
file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/example-output)
add_test(NAME example.out_directory_is_created_or_reported
  COMMAND ${CMAKE_COMMAND} -DEXAMPLE=$<TARGET_FILE:hierarchical> -DNAME=hierarchical -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/out-directory-check
          -P ${CMAKE_CURRENT_SOURCE_DIR}/examples/check_out_directory.cmake)
