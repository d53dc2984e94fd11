# Helpers that give every fleetml target the same warnings, include root and test wiring.
#
#   fleetml_library(NAME SOURCES a.cc b.cc DEPS x y [TORCH])
#   fleetml_executable(NAME SOURCES main.cc DEPS x y [OUTPUT_NAME fleet-foo])
#   fleetml_test(NAME SOURCES a_test.cc DEPS x y [LABELS unit|integration] [TIMEOUT s])
#
# Includes are rooted at the project root ("shared/common/clock.h") and at the build root
# for generated code ("schemas/fleet.pb.h").

function(fleetml_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror)
endfunction()

function(fleetml_library name)
  cmake_parse_arguments(ARG "TORCH" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  if(ARG_TORCH)
    target_link_libraries(${name} PUBLIC ${TORCH_LIBRARIES})
  endif()
  fleetml_warnings(${name})
endfunction()

function(fleetml_executable name)
  cmake_parse_arguments(ARG "" "OUTPUT_NAME" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  if(ARG_OUTPUT_NAME)
    set_target_properties(${name} PROPERTIES OUTPUT_NAME ${ARG_OUTPUT_NAME})
  endif()
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)
  fleetml_warnings(${name})
endfunction()

# One test binary per call. Every gtest case becomes its own ctest entry.
function(fleetml_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT BUILD_TESTING)
    return()
  endif()
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  fleetml_warnings(${name})
  # Directories (bin, source, zoo) come compiled into tests/support (test_env.h): ctest's
  # ENVIRONMENT cannot carry a list through gtest_discover_tests.
  gtest_discover_tests(${name}
    DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
endfunction()
