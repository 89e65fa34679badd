# Third-party dependencies, all from Debian 12 packages (scripts/install-deps.sh).
find_package(Threads REQUIRED)
find_package(Boost 1.81.0 EXACT REQUIRED CONFIG COMPONENTS json url filesystem system)
find_package(yaml-cpp REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(CURL REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(tl-expected CONFIG REQUIRED)
if(RUNWAY_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(RUNWAY_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()

# Defines a runway module: runway_module(NAME SOURCES... [DEPS public-deps...] [PRIVATE_DEPS ...])
function(runway_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(runway_${name} STATIC ${ARG_SOURCES})
  add_library(runway::${name} ALIAS runway_${name})
  target_include_directories(runway_${name}
    PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(runway_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS} runway_warnings)
endfunction()

# Test code is compiled without optimisation unless RUNWAY_OPTIMIZE_TESTS is ON: it is a third of
# the build and optimising it took 2.4 times as long (engine_test.cpp), while the code under test
# (the modules, the demo app) keeps the preset's optimisation.
function(runway_test_optimisation target)
  if(NOT RUNWAY_OPTIMIZE_TESTS)
    target_compile_options(${target} PRIVATE $<$<NOT:$<CONFIG:Debug>>:-O0>)
  endif()
endfunction()

# Defines a test executable: runway_test(NAME SOURCES... DEPS ... [LABEL unit]
# [PROPERTIES name value...]); PROPERTIES are set on every test case discovered in it (e.g.
# FIXTURES_REQUIRED, ENVIRONMENT).
function(runway_test name)
  cmake_parse_arguments(ARG "" "LABEL" "SOURCES;DEPS;PROPERTIES" ${ARGN})
  if(NOT ARG_LABEL)
    set(ARG_LABEL unit)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main runway_warnings)
  runway_test_optimisation(${name})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_compile_definitions(${name} PRIVATE
    RUNWAY_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    RUNWAY_BINARY_DIR="${PROJECT_BINARY_DIR}")
  include(GoogleTest)
  gtest_discover_tests(${name} PROPERTIES LABELS ${ARG_LABEL} ${ARG_PROPERTIES}
                       DISCOVERY_TIMEOUT 60)
endfunction()
