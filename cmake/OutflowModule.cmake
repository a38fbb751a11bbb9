# outflow_module(NAME SRCS a.cc ... [DEPS outflow_x ...] [PRIVATE_DEPS lib ...] [TESTS a_test.cc ...])
#
# One static library per layer, named outflow_<NAME>, with include root src/.
# DEPS are public (they appear in the module's headers); PRIVATE_DEPS are third-party
# libraries only this module's sources use. Each TESTS file becomes one GoogleTest
# executable linked with the module and outflow_testing.
function(outflow_module)
  cmake_parse_arguments(M "" "NAME" "SRCS;DEPS;PRIVATE_DEPS;TESTS" ${ARGN})
  set(target outflow_${M_NAME})
  add_library(${target} STATIC ${M_SRCS})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${target} PUBLIC ${M_DEPS} PRIVATE ${M_PRIVATE_DEPS})
  if(OUTFLOW_BUILD_TESTS)
    foreach(test_src ${M_TESTS})
      get_filename_component(test_name ${test_src} NAME_WE)
      add_executable(${test_name} ${test_src})
      target_link_libraries(${test_name} PRIVATE ${target} outflow_testing ${M_PRIVATE_DEPS}
                            GTest::gtest GTest::gmock GTest::gtest_main)
      gtest_discover_tests(${test_name} DISCOVERY_TIMEOUT 30 PROPERTIES LABELS unit)
    endforeach()
  endif()
endfunction()
