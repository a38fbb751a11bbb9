#include "store/sqlite/database.h"

#include <chrono>
#include <filesystem>

#include "store/sqlite/migrations.h"

namespace outflow::sqlite {

Result<std::shared_ptr<Database>> Database::Open(const std::string& path, const SqliteOptions& options, Timestamp now) {
  std::shared_ptr<Database> db(new Database());
  db->path_ = path;
  db->options_ = options;
  Connection::Options co;
  co.busy_timeout_ms = options.busy_timeout_ms;
  co.cache_kib = options.writer_cache_kib;
  OUTFLOW_ASSIGN_OR_RETURN(db->writer_, Connection::Open(path, co));
  if (options.migrate) {
    OUTFLOW_ASSIGN_OR_RETURN(db->migration_report_, Migrate(*db->writer_, now));
  } else {
    OUTFLOW_ASSIGN_OR_RETURN(int v, CurrentSchemaVersion(*db->writer_));
    if (v != sqlite::LatestSchemaVersion()) {
      return Status::FailedPrecondition("database schema version " + std::to_string(v) + " but this build needs " +
                                        std::to_string(sqlite::LatestSchemaVersion()) + "; run 'outflow migrate'");
    }
    db->migration_report_.from_version = db->migration_report_.to_version = v;
  }
  // Checkpoints move off the commit path: the writer only signals.
  Connection::Options cko;
  cko.create = false;
  cko.busy_timeout_ms = options.busy_timeout_ms;
  cko.cache_kib = 1024;
  OUTFLOW_ASSIGN_OR_RETURN(db->checkpointer_conn_, Connection::Open(path, cko));
  sqlite3_busy_handler(db->checkpointer_conn_->raw(), &Database::OnCheckpointBusy, nullptr);
  sqlite3_wal_hook(db->writer_->raw(), &Database::OnWalCommit, db.get());  // replaces autocheckpoint
  db->checkpointer_ = std::thread([raw = db.get()] { raw->CheckpointLoop(); });
  return db;
}

Database::~Database() {
  {
    std::lock_guard g(ckpt_mu_);
    ckpt_stop_ = true;
  }
  ckpt_cv_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
  if (writer_) sqlite3_wal_hook(writer_->raw(), nullptr, nullptr);
}

int Database::OnWalCommit(void* self, sqlite3*, const char*, int pages) {
  auto* db = static_cast<Database*>(self);
  db->wal_frames_.store(pages, std::memory_order_release);
  if (pages < kCheckpointPages) return SQLITE_OK;
  {
    std::lock_guard g(db->ckpt_mu_);
    db->ckpt_wanted_ = true;
  }
  db->ckpt_cv_.notify_one();
  return SQLITE_OK;
}

// The RESTART pass holds the writer: wait for in-flight reads (API requests take
// microseconds) for at most ~2 ms, then give up until the next cycle.
int Database::OnCheckpointBusy(void*, int count) {
  if (count >= 40) return 0;
  std::this_thread::sleep_for(std::chrono::microseconds(50));
  return 1;
}

void Database::CheckpointLoop() {
  std::unique_lock lk(ckpt_mu_);
  auto last_cycle = std::chrono::steady_clock::time_point{};
  while (true) {
    ckpt_cv_.wait(lk, [&] { return ckpt_wanted_ || ckpt_stop_; });
    if (ckpt_stop_) return;
    // At most one cycle per kCheckpointInterval: a writer committing every few
    // microseconds would otherwise wake a checkpoint (and its fsyncs) per commit.
    auto next = last_cycle + kCheckpointInterval;
    if (ckpt_cv_.wait_until(lk, next, [&] { return ckpt_stop_; })) return;
    ckpt_wanted_ = false;
    lk.unlock();
    CheckpointCycle();
    last_cycle = std::chrono::steady_clock::now();
    lk.lock();
  }
}

void Database::CheckpointCycle() {
  // PASSIVE copies what it can without waiting for, or blocking, the writer and
  // readers; its fsyncs happen outside the writer lock. A busy writer keeps
  // appending while it runs, so the log is never wholly copied when the next write
  // begins, never restarts, and only grows: the RESTART pass below makes it start
  // over. RESTART rather than PASSIVE: it also waits for the reads still on the log
  // to end (a read that lasts longer than OnCheckpointBusy allows makes it return
  // BUSY, and a later cycle tries again).
  // Under the writer, RESTART costs little when the PASSIVE pass left nothing to
  // copy (no copy, no fsync), and up to ~170 ms (measured, loaded machine) when a
  // commit came in between. So the writer is taken only when no commit of ours has
  // come since the PASSIVE pass; after kCheckpointTries passes the tail is copied
  // under the writer anyway, which keeps the log bounded. (Frames another process
  // wrote are not seen by our WAL hook: they look like a commit since.)
  for (int attempt = 1;; ++attempt) {
    int log = 0, done = 0;
    sqlite3_wal_checkpoint_v2(checkpointer_conn_->raw(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    WriterGuard w(*this);
    const int frames = wal_frames_.load(std::memory_order_acquire);
    const bool caught_up = done == log && frames == log;
    if (!caught_up && attempt < kCheckpointTries) continue;
    const auto t0 = std::chrono::steady_clock::now();
    sqlite3_wal_checkpoint_v2(checkpointer_conn_->raw(), nullptr, SQLITE_CHECKPOINT_RESTART, &log, &done);
    const int64_t us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
    int64_t seen = longest_checkpoint_us_.load(std::memory_order_relaxed);
    while (us > seen && !longest_checkpoint_us_.compare_exchange_weak(seen, us, std::memory_order_relaxed)) {
    }
    return;
  }
}

std::unique_lock<std::mutex> Database::AcquireWriter() {
  writer_waiters_.fetch_add(1);
  std::unique_lock lock(writer_mu_);
  writer_waiters_.fetch_sub(1);
  writer_grants_.fetch_add(1);
  return lock;
}

Database::WriterGuard Database::PoliteWriter() {
  if (writer_waiters_.load() > 0) {
    // Let a waiter take the writer before us: it is granted within a wake-up.
    const uint64_t granted = writer_grants_.load();
    while (writer_grants_.load() == granted && writer_waiters_.load() > 0) std::this_thread::yield();
  }
  return WriterGuard(*this);
}

void Database::RecordHold(std::chrono::steady_clock::duration held) {
  const int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(held).count();
  holds_.fetch_add(1, std::memory_order_relaxed);
  total_hold_us_.fetch_add(us, std::memory_order_relaxed);
  int64_t seen = longest_hold_us_.load(std::memory_order_relaxed);
  while (us > seen && !longest_hold_us_.compare_exchange_weak(seen, us, std::memory_order_relaxed)) {
  }
}

WriterHoldStats Database::writer_stats() const {
  return {holds_.load(), std::chrono::microseconds(longest_hold_us_.load()),
          std::chrono::microseconds(total_hold_us_.load()), std::chrono::microseconds(longest_checkpoint_us_.load())};
}

void Database::ResetWriterStats() {
  holds_ = 0;
  longest_hold_us_ = 0;
  total_hold_us_ = 0;
  longest_checkpoint_us_ = 0;
}

int Database::LatestSchemaVersion() {
  return sqlite::LatestSchemaVersion();
}

Result<int> Database::ReadSchemaVersion(const std::string& path) {
  if (!std::filesystem::exists(path)) return Status::NotFound("no database at " + path);
  Connection::Options co;
  co.create = false;
  co.read_only = true;
  OUTFLOW_ASSIGN_OR_RETURN(auto c, Connection::Open(path, co));
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c->Prepare("SELECT count(*) FROM sqlite_master WHERE name = 'schema_migrations'"));
  int rc = s->Step();
  if (rc != SQLITE_ROW) return c->Error(rc, "read schema version");
  bool has_table = s->Int(0) > 0;
  s->Reset();
  if (!has_table) return 0;
  OUTFLOW_ASSIGN_OR_RETURN(s, c->Prepare("SELECT coalesce(max(version), 0) FROM schema_migrations"));
  rc = s->Step();
  if (rc != SQLITE_ROW) return c->Error(rc, "read schema version");
  int v = static_cast<int>(s->Int(0));
  s->Reset();
  return v;
}

Database::ReaderLease::~ReaderLease() {
  if (!c_) return;
  {
    std::lock_guard g(db_->readers_mu_);
    db_->idle_readers_.push_back(std::move(c_));
  }
  db_->reader_returned_.notify_one();
}

Result<Database::ReaderLease> Database::Reader() {
  {
    std::unique_lock lk(readers_mu_);
    reader_returned_.wait(lk, [&] { return !idle_readers_.empty() || open_readers_ < options_.readers; });
    if (!idle_readers_.empty()) {
      auto c = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return ReaderLease(this, std::move(c));
    }
    ++open_readers_;  // this thread opens one more, up to options_.readers
  }
  Connection::Options co;
  co.create = false;
  co.busy_timeout_ms = options_.busy_timeout_ms;
  co.cache_kib = options_.reader_cache_kib;
  auto c = Connection::Open(path_, co);
  if (!c.ok()) {
    {
      std::lock_guard g(readers_mu_);
      --open_readers_;
    }
    reader_returned_.notify_one();
    return c.status();
  }
  return ReaderLease(this, std::move(c).value());
}

}  // namespace outflow::sqlite
