#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

namespace fleetml::log {

// Structured logs, one logfmt line per event on stderr:
//   2026-11-23T12:00:00.123Z level=info component=coordinator msg="assignment published"
//   vehicle=rpi4-001 model=resnet18
// Conventional keys: component (who logs), vehicle (vehicle id), model, app, error.

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// One key=value pair; numbers and booleans are formatted on construction.
struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  template <typename T>
  requires std::is_arithmetic_v<T> Field(std::string_view k, T v)
      : key(k), value(format_number(v)) {}

  std::string key;
  std::string value;

 private:
  template <typename T>
  static std::string format_number(T v) {
    if constexpr (std::is_same_v<T, bool>) {
      return v ? "true" : "false";
    } else if constexpr (std::is_floating_point_v<T>) {
      return format_double(static_cast<double>(v));
    } else {
      return std::to_string(v);
    }
  }
  static std::string format_double(double v);
};

using Fields = std::initializer_list<Field>;

void set_level(Level level);
Level level();
// Parses "debug", "info", "warn" or "error"; throws fleetml::Error otherwise.
Level parse_level(std::string_view name);

void write(Level level, std::string_view component, std::string_view message, Fields fields = {});

inline void debug(std::string_view component, std::string_view message, Fields fields = {}) {
  write(Level::kDebug, component, message, fields);
}
inline void info(std::string_view component, std::string_view message, Fields fields = {}) {
  write(Level::kInfo, component, message, fields);
}
inline void warn(std::string_view component, std::string_view message, Fields fields = {}) {
  write(Level::kWarn, component, message, fields);
}
inline void error(std::string_view component, std::string_view message, Fields fields = {}) {
  write(Level::kError, component, message, fields);
}

// Formats one line without writing it (exposed for tests).
std::string format_line(Level level, std::string_view component, std::string_view message,
                        Fields fields);

}  // namespace fleetml::log
