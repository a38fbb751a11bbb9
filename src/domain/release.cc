#include "domain/release.h"

namespace outflow {

std::string_view ReleaseStateName(ReleaseState s) {
  switch (s) {
    case ReleaseState::kActive: return "active";
    case ReleaseState::kPaused: return "paused";
    case ReleaseState::kCancelled: return "cancelled";
    case ReleaseState::kCompleted: return "completed";
  }
  return "active";
}

std::optional<ReleaseState> ParseReleaseState(std::string_view s) {
  for (ReleaseState st : {ReleaseState::kActive, ReleaseState::kPaused, ReleaseState::kCancelled, ReleaseState::kCompleted}) {
    if (ReleaseStateName(st) == s) return st;
  }
  return std::nullopt;
}

}  // namespace outflow
