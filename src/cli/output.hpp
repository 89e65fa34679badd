#pragma once

// Output helpers for the client verbs: -o table|json|yaml, field access on the server's JSON.

#include <signal.h>

#include <cstddef>
#include <string>

#include <CLI/CLI.hpp>
#include <boost/json/value.hpp>

#include "runway/core/clock.hpp"

namespace runway::cli {

// Adds -o/--output (table, json or yaml; default table) to a command.
std::shared_ptr<std::string> addOutputFlag(CLI::App* command);

// Prints `v` as JSON (one line, the server's document unchanged) or as YAML (the same data).
void printJson(const boost::json::value& v);
void printYaml(const boost::json::value& v);
// For json/yaml: prints and returns true; for table: returns false (the caller prints a table).
bool printStructured(const std::string& format, const boost::json::value& v);

// A member of an object as text: strings as they are, null/missing as "", others as JSON.
std::string text(const boost::json::value& v, const char* key);
// A member as an integer (0 when missing or not a number).
long long integer(const boost::json::value& v, const char* key);
// The member `key` when `v` is an object that has it, else a null value.
const boost::json::value& member(const boost::json::value& v, const char* key);

// An analysis metric row of a deployment document as people read it: "error-rate" for the run
// as a whole, "error-rate@api" for one service's copy of the metric.
std::string metricLabel(const boost::json::value& metric);
// "a,b,c" from an array of strings.
std::string joinStrings(const boost::json::value& array, const char* separator = ",");
// `s` or "-" when empty.
std::string orDash(const std::string& s);
// Whether `s` may go into a URL path as an environment, deployment or version name: letters,
// digits, '-', '_' and '.', not empty.
bool validName(const std::string& s);

// Whether a deployment phase ends a follow (deploy --wait, status --watch --until-done):
// terminal phases, and Degraded, which waits for a person.
bool isEnded(const std::string& phase);
// "api=10% backend=10%": a deployment's new-version traffic weight per service.
std::string weightsText(const boost::json::value& deployment);

// The local time of day, "14:03:27".
std::string clockTime();
// The width of the terminal on stdout; 0 when stdout is not a terminal.
std::size_t terminalWidth();

// A block of lines redrawn in place on a terminal (the live views of deploy --wait and
// status --watch): each draw moves the cursor up over the previous block and clears it. Lines
// are cut to the terminal's width so that the redraw can count them.
// While alive, SIGINT (Ctrl-C) sets a flag instead of ending the process, so that a command
// that follows something (status --watch, logs -f) ends cleanly with exit 0.
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
  static bool interrupted();

 private:
  struct sigaction previous_ {};
};

// Sleeps `d` in short slices; false as soon as SIGINT arrived under an InterruptGuard.
bool sleepUnlessInterrupted(Duration d);

class ScreenRedraw {
 public:
  explicit ScreenRedraw(std::size_t width) : width_(width) {}
  void draw(const std::string& view);

 private:
  std::size_t width_;
  std::size_t lines_ = 0;
};

}  // namespace runway::cli
