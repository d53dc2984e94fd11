#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/common/clock.h"
#include "shared/common/error.h"

namespace fleetml::cli {

// A command-line mistake; run_program prints it on one line with a pointer to --help and
// exits with status 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

// The parsed command line of one command.
class Args {
 public:
  bool has(std::string_view name) const;
  // Value of an option that has a default or was given; throws UsageError when missing.
  const std::string& str(std::string_view name) const;
  std::optional<std::string> maybe(std::string_view name) const;
  // Finite number; throws UsageError naming the option otherwise.
  double num(std::string_view name) const;
  // num() within [low, high]; throws UsageError "--name: expected LOW to HIGH, got VALUE".
  double num_in(std::string_view name, double low, double high) const;
  std::int64_t integer(std::string_view name) const;
  bool flag(std::string_view name) const;
  // Every value of a repeatable option, in order.
  std::vector<std::string> list(std::string_view name) const;
  const std::vector<std::string>& positionals() const { return positionals_; }

 private:
  friend class Parser;
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
  std::vector<std::string> positionals_;
};

class Parser {
 public:
  // --name VALUE (or --name=VALUE), optional with a default.
  Parser& option(std::string name, std::string value_name, std::string help,
                 std::optional<std::string> default_value = std::nullopt);
  // --name VALUE that must be given.
  Parser& required(std::string name, std::string value_name, std::string help);
  // --name VALUE that may be given several times.
  Parser& repeated(std::string name, std::string value_name, std::string help);
  // --name without a value.
  Parser& flag(std::string name, std::string help);
  // A positional argument, in declaration order.
  Parser& positional(std::string name, std::string help, bool is_required = true);

  Args parse(const std::vector<std::string>& argv) const;
  std::string help(std::string_view usage_prefix) const;

 private:
  struct Spec {
    std::string name;
    std::string value_name;
    std::string help;
    std::optional<std::string> default_value;
    bool is_flag = false;
    bool is_required = false;
    bool is_repeated = false;
  };
  struct PositionalSpec {
    std::string name;
    std::string help;
    bool is_required;
  };
  const Spec* find(std::string_view name) const;

  std::vector<Spec> options_;
  std::vector<PositionalSpec> positionals_;
};

// One (sub)command of a program. `name` may hold several words ("models add"); an empty name
// is the program's only command.
struct Command {
  std::string name;
  std::string summary;
  std::function<void(Parser&)> declare;
  std::function<int(const Args&)> run;
};

// Simulated time shared by the processes of one simulation (fleet-coordinator, fleet-vehicle,
// fleet-sim): --speed X (0.001 to 10000, default 1) and --time-origin-ms T (default now).
void add_time_options(Parser& parser);
// SystemClock when neither option is set, else a ScaledClock reading simulated_now(); throws
// UsageError for a speed out of range.
std::unique_ptr<Clock> clock_from_args(const Args& args);

// Dispatches argv to the matching command, handles --help at every level, and turns
// exceptions into a one-line message on stderr: UsageError -> exit 2, anything else -> 1.
// Every command gets --log-level (debug|info|warn|error, default info).
int run_program(std::string_view program, std::string_view description,
                const std::vector<Command>& commands, int argc, char** argv);

}  // namespace fleetml::cli
