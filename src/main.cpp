#include "runway/cli/cli.hpp"

int main(int argc, char** argv) { return runway::cli::run(argc, argv); }
