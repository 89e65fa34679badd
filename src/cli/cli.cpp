#include "runway/cli/cli.hpp"
int runway::cli::run(int, char**) { return 0; }
