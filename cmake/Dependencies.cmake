# Third-party dependencies, all from Debian 12 packages (scripts/install-deps.sh).
find_package(Threads REQUIRED)
find_package(Boost 1.81.0 EXACT REQUIRED CONFIG COMPONENTS json url filesystem system)
find_package(yaml-cpp REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(CURL REQUIRED)
# JUnit XML test reports (the checklist's tests item): Expat, a small strict SAX parser.
find_package(EXPAT REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(tl-expected CONFIG REQUIRED)
# RE2 (libre2-dev) ships a pkg-config file and no CMake package.
find_package(PkgConfig REQUIRED)
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
# sd_notify(3) for runway.service's Type=notify readiness (libsystemd-dev; libsystemd0 is on every
# Debian 12 machine, apt itself depends on it).
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
# libpq (libpq-dev): the PostgreSQL store (src/store/postgres.cpp).
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)
if(RUNWAY_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(RUNWAY_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()

# Unity build (RUNWAY_UNITY, on in the ci and asan presets): a target's .cpp files are compiled
# in batches of RUNWAY_UNITY_BATCH, each batch one translation unit that #includes them, so the
# heavy headers (Boost.JSON, Beast, CLI11, GoogleTest) are parsed and their inline code compiled
# once per batch instead of once per file. The batch files include the sources by paths relative
# to themselves: CMake's own UNITY_BUILD writes absolute paths, which differ between two clones
# and so miss ccache in every fresh CI clone. Files in one target must not define the same name
# in an anonymous namespace (the compiler says so when they do).
function(runway_unity target)
  if(NOT RUNWAY_UNITY)
    return()
  endif()
  get_target_property(sources ${target} SOURCES)
  get_target_property(source_dir ${target} SOURCE_DIR)
  set(dir "${CMAKE_CURRENT_BINARY_DIR}/unity/${target}")
  set(batch "")
  set(content "")
  set(count 0)
  set(index 0)
  set(batches "")
  set(members "")
  foreach(source IN LISTS sources)
    if(NOT source MATCHES "\\.(cpp|cc)$")
      continue()
    endif()
    cmake_path(ABSOLUTE_PATH source BASE_DIRECTORY "${source_dir}" OUTPUT_VARIABLE path)
    file(RELATIVE_PATH relative "${dir}" "${path}")
    string(APPEND content "#include \"${relative}\"\n")
    list(APPEND members "${path}")
    math(EXPR count "${count} + 1")
    if(count EQUAL RUNWAY_UNITY_BATCH)
      file(CONFIGURE OUTPUT "${dir}/unity_${index}.cpp" CONTENT "${content}")
      list(APPEND batches "${dir}/unity_${index}.cpp")
      math(EXPR index "${index} + 1")
      set(content "")
      set(count 0)
    endif()
  endforeach()
  if(count GREATER 0)
    file(CONFIGURE OUTPUT "${dir}/unity_${index}.cpp" CONTENT "${content}")
    list(APPEND batches "${dir}/unity_${index}.cpp")
  endif()
  list(LENGTH members n)
  if(n LESS 2)
    return()  # nothing to batch
  endif()
  set_source_files_properties(${members} TARGET_DIRECTORY ${target} PROPERTIES HEADER_FILE_ONLY ON)
  target_sources(${target} PRIVATE ${batches})
endfunction()

# Defines a runway module: runway_module(NAME SOURCES... [DEPS public-deps...] [PRIVATE_DEPS ...])
function(runway_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(runway_${name} STATIC ${ARG_SOURCES})
  add_library(runway::${name} ALIAS runway_${name})
  target_include_directories(runway_${name}
    PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(runway_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS} runway_warnings)
  runway_unity(runway_${name})
endfunction()

# Test code is compiled without optimisation unless RUNWAY_OPTIMIZE_TESTS is ON: it is a third of
# the build and optimising it took 2.4 times as long (engine_test.cpp), while the code under test
# (the modules, the demo app) keeps the preset's optimisation.
function(runway_test_optimisation target)
  if(NOT RUNWAY_OPTIMIZE_TESTS)
    target_compile_options(${target} PRIVATE $<$<NOT:$<CONFIG:Debug>>:-O0>)
  endif()
endfunction()

# Defines a test executable: runway_test(NAME SOURCES... DEPS ... [LABEL unit] [OPTIMIZED] [TSAN]
# [PROPERTIES name value...]). TSAN: in the tsan tree (RUNWAY_TSAN) its cases are labelled `tsan`, the
# set the tsan preset builds and runs under ThreadSanitizer (the threaded parts: controller,
# router, API, serve). PROPERTIES are set on every test case discovered in it (e.g.
# FIXTURES_REQUIRED, ENVIRONMENT, or COST for suites that take tens of seconds: ctest starts the
# costliest first, so on a fresh clone, with no timing history yet, they do not end the run
# alone). OPTIMIZED keeps the preset's optimisation for a test that is mostly computation; it
# must be its own executable: inline functions compiled at -O0 in another object of the same
# binary would be the copies the linker keeps.
# runway_test_paths: tests/test_paths.cpp, the one object that knows the source and binary
# directories (see tests/test_paths.hpp). Made once, by the first target that needs it.
function(runway_test_paths_library)
  if(TARGET runway_test_paths)
    return()
  endif()
  add_library(runway_test_paths STATIC ${PROJECT_SOURCE_DIR}/tests/test_paths.cpp)
  target_include_directories(runway_test_paths PUBLIC ${PROJECT_SOURCE_DIR}/tests)
  target_compile_definitions(runway_test_paths PRIVATE
    RUNWAY_TEST_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    RUNWAY_TEST_BINARY_DIR="${PROJECT_BINARY_DIR}")
  target_link_libraries(runway_test_paths PRIVATE runway_warnings)
endfunction()

function(runway_test name)
  cmake_parse_arguments(ARG "OPTIMIZED;TSAN" "LABEL" "SOURCES;DEPS;PROPERTIES" ${ARGN})
  if(NOT ARG_LABEL)
    set(ARG_LABEL unit)
  endif()
  if(RUNWAY_TSAN AND ARG_TSAN)
    set(ARG_LABEL tsan)  # in the tsan tree, the one label its test preset selects
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main runway_warnings)
  if(NOT ARG_OPTIMIZED)
    runway_test_optimisation(${name})
  endif()
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  runway_unity(${name})
  runway_test_paths_library()
  target_link_libraries(${name} PRIVATE runway_test_paths)
  include(GoogleTest)
  gtest_discover_tests(${name} PROPERTIES LABELS ${ARG_LABEL} ${ARG_PROPERTIES}
                       DISCOVERY_TIMEOUT 60)
endfunction()
