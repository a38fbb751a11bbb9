#include "audit/audit_log.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>

#include "base/log.h"

namespace outflow {

AuditLog::AuditLog(AuditStore& store, AuditLogOptions options)
    : store_(store), options_(options), thread_([this] { Loop(); }) {}

AuditLog::~AuditLog() {
  Stop();
}

void AuditLog::Record(AuditEntry entry) {
  std::unique_lock lock(mu_);
  progress_.wait(lock, [&] { return queue_.size() < options_.max_queued || stopping_; });
  queue_.push_back(std::move(entry));
  ++recorded_;
  if (queue_.size() >= options_.batch) wake_.notify_one();
}

Status AuditLog::Flush() {
  std::unique_lock lock(mu_);
  const int64_t target = recorded_;
  flush_wanted_ = std::max(flush_wanted_, target);
  wake_.notify_one();
  const int64_t failures = failures_;
  progress_.wait(lock, [&] { return done_ >= target || stopping_ || failures_ != failures; });
  if (done_ >= target) return Status::Ok();
  return last_error_.ok() ? Status::Unavailable("the audit log is stopping") : last_error_;
}

void AuditLog::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_one();
  progress_.notify_all();
  if (thread_.joinable()) thread_.join();
}

AuditLog::Stats AuditLog::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void AuditLog::Loop() {
  std::unique_lock lock(mu_);
  while (true) {
    wake_.wait_for(lock, options_.flush_every,
                   [&] { return stopping_ || queue_.size() >= options_.batch || flush_wanted_ > done_; });
    if (queue_.empty()) {
      if (stopping_) return;
      continue;
    }
    const size_t n = std::min(queue_.size(), options_.batch);
    std::vector<AuditEntry> batch(std::make_move_iterator(queue_.begin()),
                                  std::make_move_iterator(queue_.begin() + static_cast<ptrdiff_t>(n)));
    lock.unlock();
    const size_t consumed = Write(batch);
    lock.lock();
    for (size_t i = consumed; i < n; ++i) queue_[i] = std::move(batch[i]);  // not written: back for the next try
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(consumed));
    done_ += static_cast<int64_t>(consumed);
    progress_.notify_all();
    if (consumed < n) {
      if (stopping_) {
        log::Error("the audit log is stopping with entries it cannot write",
                   {{"lost", static_cast<int64_t>(queue_.size())}});
        return;
      }
      wake_.wait_for(lock, options_.retry_after, [&] { return stopping_; });
    }
  }
}

size_t AuditLog::Write(const std::vector<AuditEntry>& batch) {
  Status st = store_.Append(batch);
  size_t consumed = st.ok() ? batch.size() : 0;
  int64_t written = static_cast<int64_t>(consumed);
  int64_t failed = 0;
  if (!st.ok() && st.code() != Code::kUnavailable) {
    // Something in the batch is refused: each alone, so one bad entry holds back no other.
    for (const AuditEntry& e : batch) {
      Status one = batch.size() == 1 ? st : store_.Append(std::span(&e, 1));
      if (one.code() == Code::kUnavailable) {
        st = one;  // the store itself is failing: keep the rest for later
        break;
      }
      ++consumed;
      if (one.ok()) {
        ++written;
      } else {
        ++failed;
        log::Error("cannot write an audit entry", {{"action", e.action}, {"error", one.ToString()}});
      }
    }
  }
  std::lock_guard lock(mu_);
  stats_.written += written;
  stats_.failed += failed;
  ++stats_.flushes;
  if (consumed < batch.size()) {
    last_error_ = st;
    ++failures_;
    log::Error("cannot write the audit log; will retry", {{"error", st.ToString()}});
  } else {
    last_error_ = Status::Ok();
  }
  return consumed;
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
