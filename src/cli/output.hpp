#pragma once

// Output helpers for the client verbs: -o table|json|yaml, field access on the server's JSON.

#include <string>

#include <CLI/CLI.hpp>
#include <boost/json/value.hpp>

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
// "a,b,c" from an array of strings.
std::string joinStrings(const boost::json::value& array, const char* separator = ",");
// `s` or "-" when empty.
std::string orDash(const std::string& s);

}  // namespace runway::cli
