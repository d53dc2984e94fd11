#include "shared/common/cli.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <exception>
#include <sstream>

#include "shared/common/log.h"

namespace fleetml::cli {
namespace {

std::string dashed(std::string_view name) { return "--" + std::string(name); }

}  // namespace

bool Args::has(std::string_view name) const {
  auto it = values_.find(name);
  return it != values_.end() && !it->second.empty();
}

const std::string& Args::str(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) {
    throw UsageError("missing " + dashed(name));
  }
  return it->second.back();
}

std::optional<std::string> Args::maybe(std::string_view name) const {
  if (!has(name)) return std::nullopt;
  return str(name);
}

double Args::num(std::string_view name) const {
  const std::string& text = str(name);
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value)) {
    throw UsageError(dashed(name) + ": expected a number, got '" + text + "'");
  }
  return value;
}

double Args::num_in(std::string_view name, double low, double high) const {
  const double value = num(name);
  if (!(value >= low && value <= high)) {
    char range[96];
    std::snprintf(range, sizeof range, ": expected %g to %g, got %g", low, high, value);
    throw UsageError(dashed(name) + range);
  }
  return value;
}

std::int64_t Args::integer(std::string_view name) const {
  const std::string& text = str(name);
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    throw UsageError(dashed(name) + ": expected an integer, got '" + text + "'");
  }
  return value;
}

bool Args::flag(std::string_view name) const { return has(name); }

std::vector<std::string> Args::list(std::string_view name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

Parser& Parser::option(std::string name, std::string value_name, std::string help,
                       std::optional<std::string> default_value) {
  options_.push_back({std::move(name), std::move(value_name), std::move(help),
                      std::move(default_value), false, false, false});
  return *this;
}

Parser& Parser::required(std::string name, std::string value_name, std::string help) {
  options_.push_back(
      {std::move(name), std::move(value_name), std::move(help), std::nullopt, false, true, false});
  return *this;
}

Parser& Parser::repeated(std::string name, std::string value_name, std::string help) {
  options_.push_back(
      {std::move(name), std::move(value_name), std::move(help), std::nullopt, false, false, true});
  return *this;
}

Parser& Parser::flag(std::string name, std::string help) {
  options_.push_back({std::move(name), "", std::move(help), std::nullopt, true, false, false});
  return *this;
}

Parser& Parser::positional(std::string name, std::string help, bool is_required) {
  positionals_.push_back({std::move(name), std::move(help), is_required});
  return *this;
}

const Parser::Spec* Parser::find(std::string_view name) const {
  for (const Spec& s : options_) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

Args Parser::parse(const std::vector<std::string>& argv) const {
  Args args;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& token = argv[i];
    if (token.size() > 2 && token.starts_with("--")) {
      std::string name = token.substr(2);
      std::optional<std::string> inline_value;
      if (auto eq = name.find('='); eq != std::string::npos) {
        inline_value = name.substr(eq + 1);
        name.resize(eq);
      }
      const Spec* spec = find(name);
      if (spec == nullptr) throw UsageError("unknown option " + dashed(name));
      if (spec->is_flag) {
        if (inline_value) throw UsageError(dashed(name) + " takes no value");
        args.values_[name] = {"true"};
        continue;
      }
      std::string value;
      if (inline_value) {
        value = *inline_value;
      } else {
        if (i + 1 >= argv.size()) throw UsageError(dashed(name) + " needs a value");
        value = argv[++i];
      }
      auto& slot = args.values_[name];
      if (spec->is_repeated) {
        slot.push_back(std::move(value));
      } else {
        slot = {std::move(value)};
      }
    } else {
      args.positionals_.push_back(token);
    }
  }
  if (args.positionals_.size() > positionals_.size()) {
    throw UsageError("unexpected argument '" + args.positionals_[positionals_.size()] + "'");
  }
  for (std::size_t i = args.positionals_.size(); i < positionals_.size(); ++i) {
    if (positionals_[i].is_required) throw UsageError("missing " + positionals_[i].name);
  }
  for (const Spec& s : options_) {
    if (args.has(s.name)) continue;
    if (s.default_value) {
      args.values_[s.name] = {*s.default_value};
    } else if (s.is_required) {
      throw UsageError("missing " + dashed(s.name));
    }
  }
  return args;
}

std::string Parser::help(std::string_view usage_prefix) const {
  std::ostringstream out;
  out << "usage: " << usage_prefix;
  for (const PositionalSpec& p : positionals_) {
    out << (p.is_required ? " " : " [") << p.name << (p.is_required ? "" : "]");
  }
  if (!options_.empty()) out << " [options]";
  out << "\n";
  for (const PositionalSpec& p : positionals_) {
    out << "  " << p.name << "\n      " << p.help << "\n";
  }
  if (!options_.empty()) out << "options:\n";
  for (const Spec& s : options_) {
    out << "  --" << s.name;
    if (!s.is_flag) out << " " << s.value_name;
    out << "\n      " << s.help;
    if (s.default_value) out << " (default: " << *s.default_value << ")";
    if (s.is_required) out << " (required)";
    if (s.is_repeated) out << " (repeatable)";
    out << "\n";
  }
  return out.str();
}

int run_program(std::string_view program, std::string_view description,
                const std::vector<Command>& commands, int argc, char** argv) {
  std::vector<std::string> tokens(argv + 1, argv + argc);
  const bool wants_help = [&] {
    for (const auto& t : tokens) {
      if (t == "--help" || t == "-h") return true;
    }
    return false;
  }();

  // Longest command name that matches the leading words.
  const Command* command = nullptr;
  std::size_t consumed = 0;
  for (const Command& c : commands) {
    std::istringstream words(c.name);
    std::vector<std::string> parts;
    for (std::string w; words >> w;) parts.push_back(w);
    if (parts.size() > tokens.size()) continue;
    bool match = true;
    for (std::size_t i = 0; i < parts.size(); ++i) match = match && tokens[i] == parts[i];
    if (match && (command == nullptr || parts.size() > consumed)) {
      command = &c;
      consumed = parts.size();
    }
  }

  auto print_overview = [&](std::FILE* to) {
    std::fprintf(to, "%.*s - %.*s\n\ncommands:\n", static_cast<int>(program.size()), program.data(),
                 static_cast<int>(description.size()), description.data());
    for (const Command& c : commands) {
      std::fprintf(to, "  %-22s %s\n", c.name.c_str(), c.summary.c_str());
    }
    std::fprintf(to, "\nRun '%.*s COMMAND --help' for a command's options.\n",
                 static_cast<int>(program.size()), program.data());
  };

  if (command == nullptr) {
    if (wants_help || tokens.empty()) {
      print_overview(wants_help ? stdout : stderr);
      return wants_help ? 0 : 2;
    }
    std::fprintf(stderr, "%.*s: unknown command '%s' (see --help)\n",
                 static_cast<int>(program.size()), program.data(), tokens[0].c_str());
    return 2;
  }

  Parser parser;
  if (command->declare) command->declare(parser);
  parser.option("log-level", "LEVEL", "debug, info, warn or error", "info");
  const std::string usage =
      std::string(program) + (command->name.empty() ? "" : " " + command->name);

  if (wants_help) {
    if (command->name.empty()) {
      std::printf("%.*s - %.*s\n\n", static_cast<int>(program.size()), program.data(),
                  static_cast<int>(description.size()), description.data());
    } else {
      std::printf("%s\n\n", command->summary.c_str());
    }
    std::printf("%s", parser.help(usage).c_str());
    return 0;
  }

  try {
    Args args =
        parser.parse({tokens.begin() + static_cast<std::ptrdiff_t>(consumed), tokens.end()});
    log::set_level(log::parse_level(args.str("log-level")));
    return command->run(args);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "%s: %s (see --help)\n", usage.c_str(), e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", usage.c_str(), e.what());
    return 1;
  }
}

void add_time_options(Parser& parser) {
  parser.option("speed", "X", "simulated time runs X times faster than real time; 1 = real time",
                "1");
  parser.option("time-origin-ms", "T",
                "Unix ms where simulated and real time coincide; give every process of one "
                "simulation the same T (default: now)");
}

std::unique_ptr<Clock> clock_from_args(const Args& args) {
  const double speed = args.num_in("speed", 1e-3, 1e4);
  if (speed == 1 && !args.has("time-origin-ms")) return std::make_unique<SystemClock>();
  const auto origin = args.has("time-origin-ms")
                          ? std::chrono::system_clock::time_point(
                                std::chrono::milliseconds(args.integer("time-origin-ms")))
                          : std::chrono::system_clock::now();
  return std::make_unique<ScaledClock>(simulated_clock(speed, origin));
}

}  // namespace fleetml::cli
