# The test suite runs every example at a small size (each example accepts --small).
foreach(example IN LISTS SYMBATCH_EXAMPLES)
  add_test(NAME example.${example} COMMAND ${example} --small --out ${CMAKE_CURRENT_BINARY_DIR}/example-output)
endforeach()
file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/example-output)
