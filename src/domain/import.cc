#include "domain/import.h"


namespace outflow {


std::string_view ImportStateName(ImportState s) {
  switch (s) {
    case ImportState::kQueued: return "queued";
    case ImportState::kValidating: return "validating";
    case ImportState::kRunning: return "running";
    case ImportState::kCompleted: return "completed";
    case ImportState::kFailed: return "failed";
    case ImportState::kCancelled: return "cancelled";
  }
  return "queued";
}

std::optional<ImportState> ParseImportState(std::string_view s) {
  for (ImportState st : {ImportState::kQueued, ImportState::kValidating, ImportState::kRunning,
                         ImportState::kCompleted, ImportState::kFailed, ImportState::kCancelled}) {
    if (ImportStateName(st) == s) return st;
  }
  return std::nullopt;
}

std::string_view OnExistingName(OnExisting o) {
  return o == OnExisting::kUpdate ? "update" : o == OnExisting::kSkip ? "skip" : "fail";
}

std::optional<OnExisting> ParseOnExisting(std::string_view s) {
  if (s == "update") return OnExisting::kUpdate;
  if (s == "skip") return OnExisting::kSkip;
  if (s == "fail") return OnExisting::kFail;
  return std::nullopt;
}

}  // namespace outflow
