// Daemon: `outflow serve`. Wires the store, the handlers, the engine, the API and
// the HTTP server, and owns their start and stop order, written here only:
//
//   Start: lock the data directory -> load the secret key -> open the store
//          (migrate) -> keep a working admin key in <data-dir>/cli.key (mode
//          0600, for the local CLI; docs/security.md) -> register handlers -> listen (a port in use fails here,
//          before any job runs) -> when no user exists, print a one-time setup link for the first admin -> requeue what
//          a crash left (imports, releases, refreshes, scheduled campaigns) -> start the sender (the first loop on each
//          account requeues its sends in flight at a crash; before the engine, so a start job that runs at once finds
//          its limiters) -> start the engine (recovers this node's leases) -> start the job pruner -> ready.
//   Stop:  not ready -> stop accepting connections -> stop the sender
//          (claimed, unsent messages go back to queued) -> engine drain (stop
//          claiming, release queued jobs, finish running ones, commit) ->
//          stop the job pruner (after its chunk in progress) -> close connections -> close the store -> unlock.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include <optional>
#include <ostream>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "domain/campaign.h"
#include "domain/import.h"

namespace outflow {

struct DaemonConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  std::string data_dir = "./data";
  int workers = 4;
  // Handlers run on the I/O threads and wait for the database writer; enough of them
  // let concurrent single sends share one transaction (GroupCommit): 2 threads
  // accepted ~2,200 sends/s, 32 ~5,000 (docs/benchmarks.md).
  int http_threads = 32;
  std::string node_id;  // empty: read or create <data_dir>/node_id
  size_t body_limit = 8 * 1024 * 1024;
  uint64_t upload_limit = uint64_t{1} << 30;  // largest CSV upload
  Duration lease = std::chrono::minutes(5);
  // Finished jobs (done, dead, cancelled) older than this are deleted (Pruner).
  Duration job_retention = std::chrono::hours(24 * 30);
  // Audit entries older than this are deleted (Pruner).
  Duration audit_retention = std::chrono::hours(24 * 365);
  // The key that seals account credentials (docs/secrets.md): the value of
  // OUTFLOW_SECRET_KEY when set, else the key file (empty: <data_dir>/secret.key).
  // No key is a start-up error.
  std::optional<std::string> secret_key_value;
  std::string secret_key_file;
  // The first retry of a transiently failed send waits about this long; each
  // further one doubles it (SenderOptions::retry_backoff).
  Duration send_retry_base = std::chrono::seconds(30);
  // Where recipients reach this daemon's unsubscribe links (List-Unsubscribe), e.g.
  // https://outflow.example.com. Empty: http://<listen address>.
  std::string public_url;
  // SenderOptions::pacing_guard: slack for delivery-delay jitter in rate limits.
  Duration pacing_guard = std::chrono::milliseconds(10);
  // SenderOptions::global_rules: per-contact rules for every account (--contact-rules).
  ContactRules contact_rules;
  // Requests a second per API key (a token bucket as deep); over it, 429.
  double key_rate = 100;
  // /metrics answers without a key (for a scraper on a trusted network).
  bool metrics_public = false;
  // CIDR blocks that outbound calls (webhook jobs, HTTP providers, SMTP) may reach
  // although the default deny set refuses them (loopback, private, link-local,
  // metadata...; net/outbound_policy.h). Empty: the deny set holds.
  std::vector<std::string> outbound_allow;
  // Serve HTTPS with this certificate chain and private key (PEM files): both or neither.
  std::string tls_cert_file;
  std::string tls_key_file;
  // CIDR blocks of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are
  // believed (HttpRequest::client_address, secure). Empty: those headers are ignored.
  std::vector<std::string> trusted_proxies;
  // Web UI sessions end after this long without a request, and this long after
  // login at the latest (docs/security.md "Users and sessions").
  Duration session_idle = std::chrono::minutes(30);
  Duration session_max = std::chrono::hours(12);
  // After 5 failed logins for an email each attempt waits this long, doubling;
  // the 10th locks the email for login_lock.
  Duration login_backoff = std::chrono::seconds(1);
  Duration login_lock = std::chrono::minutes(15);
};

// The default key file of a data directory.
std::string DefaultSecretKeyPath(const std::string& data_dir);

// Parses "host:port" ("127.0.0.1:8080", "[::1]:8080", ":8080").
Status ParseListenAddress(std::string_view text, std::string& host, uint16_t& port);

// An exclusive lock on a data directory (flock on <dir>/outflow.lock), so two
// processes never run on one database with the same node id.
class DataDirLock {
 public:
  // Creates the directory if needed. Unavailable when another process holds it.
  static Result<std::unique_ptr<DataDirLock>> Acquire(const std::string& dir);
  ~DataDirLock();

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_;
};

// The path of the SQLite database in a data directory.
std::string DatabasePath(const std::string& data_dir);

// Runs due jobs of the given kinds on a data directory without a daemon (the cron
// verbs `outflow import process` and `outflow release run`), until none is due.
// With `import_file`, first records that file as a new import. Refuses a data
// directory a running daemon holds (Unavailable). Prints what it did to `out`.
struct OfflineRun {
  std::string data_dir;
  std::vector<std::string> kinds;
  std::optional<std::string> import_file;  // with its options
  std::string import_name;
  ImportOptions import_options;
};
// When it ran a new import, `import_state` is where that import ended.
Status RunOffline(const OfflineRun& run, std::ostream& out, std::optional<ImportState>* import_state = nullptr);

class Daemon {
 public:
  explicit Daemon(DaemonConfig config);
  ~Daemon();
  Status Start();
  void Stop();
  uint16_t port() const;
  const std::string& node_id() const;

 private:
  struct Parts;
  DaemonConfig config_;
  std::unique_ptr<Parts> parts_;
  std::atomic<bool> ready_{false};
};

}  // namespace outflow
