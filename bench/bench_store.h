// Shared pieces of the store-level benchmarks (campaign_fanout_bench,
// campaign_send_bench): the machine line printed with every result, a temporary
// directory, and loading contacts into a static segment fast (UpsertBatch and
// AddMembers in batches of 10,000: ~150,000 contacts/s).
//
// Users link outflow_store_sqlite and SQLite::SQLite3 (for sqlite3_libversion).
#pragma once

#include <sqlite3.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "store/sqlite/sqlite_store.h"

namespace outflow::bench {

using Steady = std::chrono::steady_clock;

inline double Seconds(Steady::duration d) {
  return std::chrono::duration<double>(d).count();
}

// The median of `v` (the upper one for an even count); 0 for none.
inline double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The first value of a /proc/cpuinfo field ("model name").
inline std::string CpuInfo(const std::string& field) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) {
      auto p = line.find(':');
      if (p != std::string::npos) return line.substr(p + 2);
    }
  }
  return "unknown";
}

// The three load averages, as /proc/loadavg gives them.
inline std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// "nproc 2, CPU ..., Linux 6.x; SQLite 3.x; load average a b c".
inline std::string MachineLine() {
  utsname u{};
  uname(&u);
  std::string line = "nproc " + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + ", CPU " + CpuInfo("model name") +
                     ", " + u.sysname + " " + u.release + "; SQLite " + sqlite3_libversion() + "; load average " +
                     LoadAverage();
#if !defined(__OPTIMIZE__)
  line += "; NOT OPTIMISED (debug build: figures are meaningless)";
#endif
  return line;
}

template <typename T>
T OrDie(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, r.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

inline void OrDie(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

// A fresh directory under the system's temporary directory, removed on
// destruction unless kept.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix)
      : path_(std::filesystem::temp_directory_path() / (prefix + std::to_string(getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    if (!keep_) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  void Keep() { keep_ = true; }

 private:
  std::string path_;
  bool keep_ = false;
};

// Creates `n` live contacts, each filled by `fill(i, contact)`, and adds them to
// the static segment `segment`, in transactions of 10,000. Exits on any error.
inline void LoadContacts(SqliteStores& s, SegmentId segment, int64_t n,
                         const std::function<void(int64_t, Contact&)>& fill, Timestamp now) {
  std::vector<Contact> batch;
  std::vector<ContactId> ids;
  batch.reserve(10'000);
  for (int64_t i = 0; i < n; ++i) {
    Contact c;
    fill(i, c);
    batch.push_back(std::move(c));
    if (batch.size() == 10'000 || i + 1 == n) {
      auto outcomes = OrDie(s.contacts().UpsertBatch(batch, ExistingPolicy::kUpdate, now), "upsert contacts");
      ids.clear();
      for (const UpsertOutcome& o : outcomes) {
        if (o.kind == UpsertOutcome::Kind::kFailed) {
          std::fprintf(stderr, "contact failed: %s\n", o.error.c_str());
          std::exit(1);
        }
        ids.push_back(o.id);
      }
      OrDie(s.segments().AddMembers(segment, ids, now), "add members");
      batch.clear();
    }
  }
}

// A new static segment named `name`.
inline Segment StaticSegment(SqliteStores& s, const std::string& name, Timestamp now) {
  Segment seg{SegmentId(), name, SegmentKind::kStatic, std::nullopt, 0, false, false, {}, {}};
  return OrDie(s.segments().Create(seg, now), "create segment");
}

}  // namespace outflow::bench
