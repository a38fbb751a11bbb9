// Paced release: a plan moves staged contacts into the live base at a set pace:
// `per_slot` contacts every `interval_seconds`, oldest (import order) first, only
// while one of its send windows is open, optionally ramping up by ramp_percent a
// day (domain warm-up), until the staging area is empty (docs/imports.md).
//
//   active <-> paused; active | paused -> cancelled; active -> completed (staging empty)
#pragma once

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "base/strong_id.h"
#include "base/time.h"
#include "time/send_window.h"

namespace outflow {

struct ReleasePlanIdTag {};
using ReleasePlanId = StrongId<ReleasePlanIdTag>;

enum class ReleaseState { kActive, kPaused, kCancelled, kCompleted };
std::string_view ReleaseStateName(ReleaseState s);
std::optional<ReleaseState> ParseReleaseState(std::string_view s);

inline constexpr int64_t kMaxReleasePerSlot = 1'000'000;

struct ReleasePlan {
  ReleasePlanId id;
  std::string name;
  int64_t per_slot = 0;
  int64_t interval_seconds = 0;
  double ramp_percent = 0;  // per local day since the start
  std::string time_zone = "UTC";
  std::vector<Window> windows;  // empty: any time
  ReleaseState state = ReleaseState::kActive;
  int64_t released_total = 0;
  Timestamp started_at;
  Timestamp next_slot_at;
  Timestamp created_at;
  Timestamp updated_at;
};

// How many a slot on local day `day` (0 = the start day) releases.
inline int64_t SlotSize(const ReleasePlan& p, int64_t day) {
  double n = static_cast<double>(p.per_slot) * std::pow(1.0 + p.ramp_percent / 100.0, static_cast<double>(day));
  return static_cast<int64_t>(std::min(n, static_cast<double>(kMaxReleasePerSlot)));
}

struct ReleaseLogEntry {
  int64_t id = 0;
  ReleasePlanId plan;
  Timestamp at;
  int64_t released = 0;
};

}  // namespace outflow
