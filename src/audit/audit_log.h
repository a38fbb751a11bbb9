// AuditLog: records who changed what (docs/security.md "Audit log").
//
// Record() queues an entry and returns at once; a thread of its own writes the
// queue every `flush_every` (or sooner, when `batch` entries wait), all of it in
// one AuditStore::Append. So the audit log costs a busy API one short transaction
// per flush, not one per change, and no request waits for it. If a batch fails,
// each entry is tried alone, so one bad entry fails (and is logged) alone; a
// failure of the store keeps the entries queued and tries again.
//
// Flush() returns once every entry recorded before it is committed: GET
// /v1/audit calls it, so a reader sees every change answered before its read.
//
// An entry is written after the change it describes has committed: a crash before
// the next flush loses the entries still queued (at most `flush_every` of them),
// never records a change that did not happen. docs/security.md says so. The queue
// holds at most `max_queued` entries; Record() waits for room beyond that.
//
// Lifecycle: construct (the thread starts), Stop() (writes what is queued, then
// joins; idempotent; the destructor calls it). Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/audit_store.h"

namespace outflow {

struct AuditLogOptions {
  std::chrono::milliseconds flush_every{20};
  size_t batch = 1000;
  size_t max_queued = 100000;
  std::chrono::milliseconds retry_after{1000};  // after the store failed
};

class AuditLog {
 public:
  explicit AuditLog(AuditStore& store, AuditLogOptions options = {});
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  void Record(AuditEntry entry);
  // Waits until every entry recorded before the call is written (or given up as
  // bad). The store's error if it cannot write them now.
  Status Flush();
  void Stop();
  AuditStore& store() { return store_; }

  struct Stats {
    int64_t written = 0;
    int64_t failed = 0;  // entries the store refused even alone (logged)
    int64_t flushes = 0;
  };
  Stats stats() const;

 private:
  void Loop();
  // Writes `batch`; how many entries from its front are done with (written, or
  // refused for good and logged). Fewer than all: the store is failing; the rest
  // are tried again later.
  size_t Write(const std::vector<AuditEntry>& batch);

  AuditStore& store_;
  const AuditLogOptions options_;
  mutable std::mutex mu_;
  std::condition_variable wake_;      // the writer: work, a flush, or stop
  std::condition_variable progress_;  // callers: room in the queue, or entries written
  std::deque<AuditEntry> queue_;      // GUARDED_BY(mu_)
  int64_t recorded_ = 0;              // GUARDED_BY(mu_): entries ever queued
  int64_t done_ = 0;                  // GUARDED_BY(mu_): entries written or given up
  int64_t flush_wanted_ = 0;          // GUARDED_BY(mu_): write up to here now
  Status last_error_;                 // GUARDED_BY(mu_): of the last write
  int64_t failures_ = 0;              // GUARDED_BY(mu_): writes the store failed
  bool stopping_ = false;             // GUARDED_BY(mu_)
  Stats stats_;                       // GUARDED_BY(mu_)
  std::thread thread_;
};

// The actor of a command run on the data directory: "cli:<Unix user name>" (the
// numeric uid when the name is unknown).
std::string CliActor();

// The entry of a change made by such a command: by CliActor(), from "local".
AuditEntry CliAuditEntry(std::string action, std::string object_type, std::string object_id, std::string summary,
                         Timestamp now);

}  // namespace outflow
