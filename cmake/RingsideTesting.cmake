# ringside_add_gtest(NAME <name> SOURCES <files...> LABELS <labels...>
#                    [LIBS <libs...>] [TIMEOUT <seconds>])
#
# Builds a GoogleTest executable and registers each of its tests with ctest
# (gtest_discover_tests), carrying LABELS and a TIMEOUT.
#   LABELS   one or more of RINGSIDE_TEST_LABELS; run_all.py picks tests per
#            build variant by label (table in README.md).
#   LIBS     what to link besides GTest::gtest_main; replaces the default
#            ringside::core_static (so pass ringside::core to test the .so).
#   TIMEOUT  per test, seconds; default by label: stress 300, process 120,
#            otherwise 60. Multiplied by RINGSIDE_TEST_TIMEOUT_SCALE.
# Tests labelled stress or process run alone (RUN_SERIAL): they time things
# or fork, and a 2-core machine has no core to spare for a neighbour.
include_guard(GLOBAL)
include(GoogleTest)
find_package(GTest REQUIRED)

# quick: seconds, every variant. stress: long, release only. process: forks
# peers, release and asan. no_memcheck: never run under valgrind memcheck.
set(RINGSIDE_TEST_LABELS quick stress process no_memcheck)
set(RINGSIDE_TEST_TIMEOUT_SCALE 1 CACHE STRING
    "Multiplier for test timeouts (sanitizer and valgrind presets raise it)")

# Sanitizer run-time options for every suite; prepended, so options the caller
# already has in the environment come later and win.
set(RINGSIDE_TEST_ENV_MODS "")
if(RINGSIDE_SANITIZER_ACTIVE STREQUAL "asan")
  set(RINGSIDE_TEST_ENV_MODS
      "ASAN_OPTIONS=string_prepend:detect_leaks=1:check_initialization_order=1:strict_init_order=1:"
      "UBSAN_OPTIONS=string_prepend:print_stacktrace=1:halt_on_error=1:")
elseif(RINGSIDE_SANITIZER_ACTIVE STREQUAL "tsan")
  set(RINGSIDE_TEST_ENV_MODS "TSAN_OPTIONS=string_prepend:halt_on_error=1:second_deadlock_stack=1:")
endif()

function(ringside_add_gtest)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "NAME;TIMEOUT" "SOURCES;LABELS;LIBS")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "ringside_add_gtest: unexpected arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT arg_NAME OR NOT arg_SOURCES OR NOT arg_LABELS)
    message(FATAL_ERROR "ringside_add_gtest: NAME, SOURCES and LABELS are required")
  endif()
  foreach(label IN LISTS arg_LABELS)
    if(NOT label IN_LIST RINGSIDE_TEST_LABELS)
      message(FATAL_ERROR "ringside_add_gtest(${arg_NAME}): unknown label '${label}' "
                          "(known: ${RINGSIDE_TEST_LABELS}); a test with no known label never runs")
    endif()
  endforeach()
  if(NOT DEFINED arg_LIBS)
    set(arg_LIBS ringside::core_static)
  endif()
  if(NOT arg_TIMEOUT)
    set(arg_TIMEOUT 60)
    if("stress" IN_LIST arg_LABELS)
      set(arg_TIMEOUT 300)
    elseif("process" IN_LIST arg_LABELS)
      set(arg_TIMEOUT 120)
    endif()
  endif()
  math(EXPR timeout "${arg_TIMEOUT} * ${RINGSIDE_TEST_TIMEOUT_SCALE}")
  set(serial FALSE)
  if("stress" IN_LIST arg_LABELS OR "process" IN_LIST arg_LABELS)
    set(serial TRUE)
  endif()

  add_executable(${arg_NAME} ${arg_SOURCES})
  target_link_libraries(${arg_NAME} PRIVATE GTest::gtest_main ${arg_LIBS})
  # gtest_discover_tests flattens list-valued PROPERTIES ("LABELS quick;process"
  # would become two arguments), so the properties are set by a second ctest
  # include file, read after the discovered list ${arg_NAME}_TESTS exists.
  gtest_discover_tests(${arg_NAME} DISCOVERY_TIMEOUT 60 TEST_LIST ${arg_NAME}_TESTS)
  set(props_file "${CMAKE_CURRENT_BINARY_DIR}/${arg_NAME}_properties.cmake")
  file(WRITE "${props_file}"
       "if(${arg_NAME}_TESTS)\n"
       "  set_tests_properties(\${${arg_NAME}_TESTS} PROPERTIES\n"
       "    LABELS \"${arg_LABELS}\" TIMEOUT ${timeout} RUN_SERIAL ${serial}\n"
       "    ENVIRONMENT_MODIFICATION \"${RINGSIDE_TEST_ENV_MODS}\")\n"
       "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${props_file}")
endfunction()
