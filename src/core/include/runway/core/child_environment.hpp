#pragma once

// The environment runway gives the commands it starts: application instances (the local
// runtime), hooks, backups and command checks. Never runway's own environment as a whole: that
// holds credentials meant for runway alone (a Prometheus password, a notification key), and a
// child that inherited them could print them into a log or an event.

#include <map>
#include <string>
#include <vector>

namespace runway {

// The variables passed through from runway's environment when they are set there, in order:
// PATH, HOME, LANG, LC_ALL, TZ, TMPDIR (docs/operations.md, "Security").
const std::vector<std::string>& inheritedVariableNames();

// Those of inheritedVariableNames() that are set in this process now, with their values. The
// caller adds what the configuration and runway set for the command. Thread-safe as long as no
// thread changes the process environment.
std::map<std::string, std::string> baseChildEnvironment();

}  // namespace runway
