#pragma once

namespace runway::cli {

// Runs the runway command line; returns the process exit code (0 ok, 1 failed, 2 usage or
// config error, 3 cannot reach or authenticate to the server). Catches every exception.
int run(int argc, char** argv);

}  // namespace runway::cli
