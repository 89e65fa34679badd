#pragma once

// Where this build's source and binary trees are, for tests that read examples and test data or
// start the programs the build made. The two paths are compiled into one small object
// (tests/test_paths.cpp) instead of being defined on every test's command line: a path on the
// command line differs in each clone, so ccache would miss every test object of a fresh clone
// (CI builds one), and the suite's objects are most of the build.
namespace runway::test {

// The source tree's root (PROJECT_SOURCE_DIR), e.g. for examples/quickstart/runway.yaml.
const char* sourceDir();
// The build tree's root (PROJECT_BINARY_DIR); programs are under bin/.
const char* binaryDir();

}  // namespace runway::test

#define RUNWAY_SOURCE_DIR (::runway::test::sourceDir())
#define RUNWAY_BINARY_DIR (::runway::test::binaryDir())
