#include "test_paths.hpp"

#if !defined(RUNWAY_TEST_SOURCE_DIR) || !defined(RUNWAY_TEST_BINARY_DIR)
#error "RUNWAY_TEST_SOURCE_DIR and RUNWAY_TEST_BINARY_DIR must be defined by the build"
#endif

namespace runway::test {

const char* sourceDir() { return RUNWAY_TEST_SOURCE_DIR; }
const char* binaryDir() { return RUNWAY_TEST_BINARY_DIR; }

}  // namespace runway::test
