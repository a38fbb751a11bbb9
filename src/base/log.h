// Structured logging: one JSON object per line on stderr, written through spdlog.
//
//   log::Info("engine started", {{"node", node_id}, {"workers", 4}});
//   -> {"ts":"2026-11-24T09:30:00.000000Z","level":"info","msg":"engine started","node":"n1","workers":4}
//
// Thread-safe. Level set once at start by SetLevel(); below it, calls are cheap.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace outflow::log {

enum class Level { kDebug, kInfo, kWarn, kError, kOff };

// A key and its value already rendered as JSON.
struct Field {
  Field(std::string_view k, std::string_view v);
  Field(std::string_view k, const char* v) : Field(k, std::string_view(v)) {}
  Field(std::string_view k, const std::string& v) : Field(k, std::string_view(v)) {}
  Field(std::string_view k, int64_t v);
  Field(std::string_view k, int v) : Field(k, static_cast<int64_t>(v)) {}
  Field(std::string_view k, size_t v) : Field(k, static_cast<int64_t>(v)) {}
  Field(std::string_view k, double v);
  Field(std::string_view k, bool v);
  std::string_view key;
  std::string json;
};

void SetLevel(Level level);
// Parses debug|info|warn|error|off; false when unknown.
bool ParseLevel(std::string_view name, Level& out);
bool Enabled(Level level);

void Write(Level level, std::string_view msg, std::initializer_list<Field> fields);
inline void Debug(std::string_view m, std::initializer_list<Field> f = {}) {
  if (Enabled(Level::kDebug)) Write(Level::kDebug, m, f);
}
inline void Info(std::string_view m, std::initializer_list<Field> f = {}) {
  Write(Level::kInfo, m, f);
}
inline void Warn(std::string_view m, std::initializer_list<Field> f = {}) {
  Write(Level::kWarn, m, f);
}
inline void Error(std::string_view m, std::initializer_list<Field> f = {}) {
  Write(Level::kError, m, f);
}

// Appends `s` to `out` as a JSON string literal, quotes included.
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace outflow::log
