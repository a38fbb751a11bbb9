#include "audit/audit_log.h"

#include <pwd.h>
#include <unistd.h>

namespace outflow {

AuditLog::AuditLog(AuditStore& store, size_t max_group)
    : store_(store), committer_([this](std::span<const AuditEntry* const> g) { return Commit(g); }, max_group) {}

Status AuditLog::Record(const AuditEntry& entry) {
  return committer_.Submit(entry);
}

std::vector<Status> AuditLog::Commit(std::span<const AuditEntry* const> group) {
  std::vector<AuditEntry> entries;
  entries.reserve(group.size());
  for (const AuditEntry* e : group) entries.push_back(*e);
  if (group.size() > 1) {
    Status st = store_.Append(entries);
    if (st.ok()) return std::vector<Status>(group.size(), Status::Ok());
  }
  std::vector<Status> out;  // alone, or again alone after the group failed
  out.reserve(group.size());
  for (const AuditEntry& e : entries) out.push_back(store_.Append(std::span(&e, 1)));
  return out;
}

std::string CliActor() {
  const uid_t uid = geteuid();
  std::string buf(4096, '\0');
  passwd pw{};
  passwd* found = nullptr;
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr) {
    return "cli:" + std::string(found->pw_name);
  }
  return "cli:" + std::to_string(uid);
}

AuditEntry CliAuditEntry(std::string action, std::string object_type, std::string object_id, std::string summary,
                         Timestamp now) {
  AuditEntry e;
  e.at = now;
  e.actor = CliActor();
  e.actor_name = e.actor.substr(4);  // after "cli:"
  e.action = std::move(action);
  e.object_type = std::move(object_type);
  e.object_id = std::move(object_id);
  e.address = "local";
  e.summary = std::move(summary);
  return e;
}

}  // namespace outflow
