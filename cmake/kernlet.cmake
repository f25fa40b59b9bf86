# Shared compile settings for kernlet's own targets (not for third-party code).

# No -Wnull-dereference: with GCC 12 it fires inside inlined Asio and libstdc++ code.
# -Wno-mismatched-new-delete: GCC 12 misreads Asio's coroutine frame allocator (its
# operator new/delete pair) as mismatched.
set(KERNLET_WARNINGS
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align
  -Wunused -Woverloaded-virtual -Wdouble-promotion
  -Wformat=2 -Wimplicit-fallthrough -Wmissing-declarations)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  list(APPEND KERNLET_WARNINGS -Wno-mismatched-new-delete)
endif()
if(KERNLET_WERROR)
  list(APPEND KERNLET_WARNINGS -Werror)
endif()

# kernlet_target(<target>): apply kernlet's warnings and include root to a target.
function(kernlet_target target)
  target_compile_options(${target} PRIVATE ${KERNLET_WARNINGS})
endfunction()

# kernlet_unit_test(<name> SOURCES ... LIBS ...): a GoogleTest binary labelled `unit`.
function(kernlet_unit_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  kernlet_target(${name})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  # DISCOVERY_TIMEOUT is gtest_discover_tests' own keyword: it must come before PROPERTIES,
  # or it ends the property list and swallows what follows.
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 30 PROPERTIES LABELS unit
    SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
endfunction()

# kernlet_integration_test(<name> SOURCES ... LIBS ...): a GoogleTest binary labelled
# `integration`: runs as root against the real kernel, one feature per test. A test whose
# kernel feature or privilege is missing calls GTEST_SKIP() with the reason, and ctest
# reports it as skipped, never as passed.
function(kernlet_integration_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  kernlet_target(${name})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 30 PROPERTIES LABELS integration TIMEOUT 300
    SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]"
    ENVIRONMENT "KERNLET_BIN=${CMAKE_BINARY_DIR}/bin")
endfunction()
