#include "app/daemon.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>

#include "api/api_handler.h"
#include "api/http_server.h"
#include "auth/authenticator.h"
#include "auth/cli_key_file.h"
#include "auth/user_auth.h"
#include "base/clock.h"
#include "base/log.h"
#include "campaigns/campaign_service.h"
#include "channels/webhook/webhook_handler.h"
#include "contacts/contact_service.h"
#include "contacts/segment_service.h"
#include "crypto/secret_box.h"
#include "engine/engine.h"
#include "engine/job_service.h"
#include "engine/pruner.h"
#include "ingest/import_service.h"
#include "ingest/release_service.h"
#include "net/outbound_policy.h"
#include "sending/link_tracking.h"
#include "sending/message_service.h"
#include "sending/sender.h"
#include "sending/tracking_service.h"
#include "store/sqlite/sqlite_store.h"

namespace outflow {

namespace fs = std::filesystem;

Status ParseListenAddress(std::string_view text, std::string& host, uint16_t& port) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return Status::InvalidArgument("addr: '" + std::string(text) + "' must be host:port, e.g. 127.0.0.1:8080");
  }
  std::string_view h = text.substr(0, colon);
  std::string_view p = text.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  unsigned v = 0;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
  if (ec != std::errc() || ptr != p.data() + p.size() || v > 65535) {
    return Status::InvalidArgument("addr: port '" + std::string(p) + "' is not a number from 0 to 65535");
  }
  host = h.empty() ? "127.0.0.1" : std::string(h);
  port = static_cast<uint16_t>(v);
  return Status::Ok();
}

Result<std::unique_ptr<DataDirLock>> DataDirLock::Acquire(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::Unavailable("cannot create data directory " + dir + ": " + ec.message());
  std::string path = (fs::path(dir) / "outflow.lock").string();
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Unavailable("cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "?";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return Status::Unavailable("data directory " + dir + " is in use by another outflow process (pid " + pid + ")");
  }
  std::string me = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) {
    [[maybe_unused]] ssize_t w = ::pwrite(fd, me.data(), me.size(), 0);
  }
  return std::unique_ptr<DataDirLock>(new DataDirLock(fd));
}

DataDirLock::~DataDirLock() {
  ::close(fd_);
}

std::string DatabasePath(const std::string& data_dir) {
  return (fs::path(data_dir) / "outflow.db").string();
}

std::string DefaultSecretKeyPath(const std::string& data_dir) {
  return (fs::path(data_dir) / "secret.key").string();
}

namespace {

// Reads <dir>/node_id, creating it with a random id the first time.
Result<std::string> LoadNodeId(const std::string& dir) {
  fs::path path = fs::path(dir) / "node_id";
  std::ifstream in(path);
  std::string id;
  if (in && std::getline(in, id) && !id.empty()) return id;
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(rd()));
  id = std::string("node-") + buf;
  std::ofstream out(path);
  out << id << "\n";
  if (!out) return Status::Unavailable("cannot write " + path.string());
  return id;
}

// The key that seals credentials: OUTFLOW_SECRET_KEY, else the key file. A new data
// directory (no database yet, so no sealed credentials) gets its key made at the
// default path (mode 0600); a directory whose database exists but whose key is
// missing is refused, since the credentials sealed under the lost key cannot be read.
Result<SecretBox> LoadSecretKey(const DaemonConfig& config) {
  if (config.secret_key_value) return SecretBox::FromEnvValue(*config.secret_key_value, "OUTFLOW_SECRET_KEY");
  const bool default_path = config.secret_key_file.empty();
  const std::string path = default_path ? DefaultSecretKeyPath(config.data_dir) : config.secret_key_file;
  Result<SecretBox> key = SecretBox::FromKeyFile(path);
  if (key.ok() || key.status().code() != Code::kNotFound) return key;
  std::error_code ec;
  if (default_path && !fs::exists(DatabasePath(config.data_dir), ec) && !ec) {
    OUTFLOW_RETURN_IF_ERROR(SecretBox::GenerateKeyFile(path));
    log::Warn("new data directory: created the secret key that seals account credentials; back it up with the data",
              {{"path", path}});
    return SecretBox::FromKeyFile(path);
  }
  return Status::FailedPrecondition(
      "no secret key: " + path + " does not exist, and the database " + DatabasePath(config.data_dir) +
      " may hold account credentials sealed under the lost key. Restore the key file, or, if this data directory "
      "never had one, create one with `outflow keygen --data-dir " +
      config.data_dir +
      "` (or give --secret-key-file PATH, or set OUTFLOW_SECRET_KEY to 64 hex characters); see docs/secrets.md");
}

// First run: when no user exists, a one-time link (valid an hour) where the first
// admin sets a password, in the log and on stderr. Each start makes a new one
// (voiding the last) until a user exists.
Status AnnounceFirstRun(auth::UserAuth& users, const std::string& public_url) {
  OUTFLOW_ASSIGN_OR_RETURN(int64_t n, users.store().CountUsers());
  if (n > 0) return Status::Ok();
  OUTFLOW_ASSIGN_OR_RETURN(auth::SetupLink link, users.NewSetupLink(std::nullopt));
  const std::string url = auth::SetupUrl(public_url, link.token);
  log::Warn("no user exists yet: open the one-time setup link to make the first admin",
            {{"setup_link", url}, {"expires_at", FormatRfc3339(link.expires_at)}});
  std::cerr << "No user exists yet. Make the first admin (once, before " << FormatRfc3339(link.expires_at) << ") at:\n"
            << url << std::endl;
  return Status::Ok();
}

auth::SessionOptions SessionOptionsOf(const DaemonConfig& c) {
  auth::SessionOptions o;
  o.idle = c.session_idle;
  o.max = c.session_max;
  o.lockout.first_delay = c.login_backoff;
  o.lockout.lock_for = c.login_lock;
  return o;
}

}  // namespace

struct Daemon::Parts {
  // First, so it goes last: the webhook handler and the senders hold it.
  std::optional<net::OutboundPolicy> outbound;
  std::unique_ptr<DataDirLock> lock;
  std::optional<SecretBox> secrets;
  std::unique_ptr<SqliteStores> store;
  HandlerRegistry handlers;
  EngineMetrics metrics;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<Pruner> pruner;
  std::unique_ptr<Pruner> audit_pruner;
  std::unique_ptr<AuditLog> audit;
  std::unique_ptr<JobService> jobs;
  std::unique_ptr<ContactService> contacts;
  std::unique_ptr<ImportService> imports;
  std::shared_ptr<ImportRunner> import_runner;
  std::shared_ptr<ReleaseRunner> release_runner;
  std::unique_ptr<ReleaseService> releases;
  std::unique_ptr<SegmentService> segments;
  std::shared_ptr<CampaignStartHandler> campaign_starter;
  std::shared_ptr<AccountVerifyHandler> account_verifier;
  std::unique_ptr<Sender> sender;
  std::unique_ptr<MessageService> messages;
  std::unique_ptr<LinkTracker> links;
  std::unique_ptr<TrackingService> tracking;
  std::unique_ptr<CampaignService> campaigns;
  std::unique_ptr<auth::Authenticator> auth;
  std::unique_ptr<crypto::PasswordHasher> hasher;
  std::unique_ptr<auth::UserAuth> users;
  std::unique_ptr<api::ApiHandler> api;
  std::unique_ptr<api::HttpServer> http;
};

Daemon::Daemon(DaemonConfig config) : config_(std::move(config)), parts_(std::make_unique<Parts>()) {}

Daemon::~Daemon() {
  Stop();
}

uint16_t Daemon::port() const {
  return parts_->http ? parts_->http->port() : 0;
}
const std::string& Daemon::node_id() const {
  return config_.node_id;
}

Status Daemon::Start() {
  Clock& clock = SystemClock::Instance();
  Parts& p = *parts_;
  // Paths kept in the database (import files) must not depend on the working directory.
  config_.data_dir = fs::absolute(config_.data_dir).lexically_normal().string();
  OUTFLOW_ASSIGN_OR_RETURN(std::vector<net::Cidr> allow, net::ParseCidrs(config_.outbound_allow, "--outbound-allow"));
  p.outbound.emplace(std::move(allow));
  OUTFLOW_ASSIGN_OR_RETURN(p.lock, DataDirLock::Acquire(config_.data_dir));
  if (config_.node_id.empty()) {
    OUTFLOW_ASSIGN_OR_RETURN(config_.node_id, LoadNodeId(config_.data_dir));
  }
  OUTFLOW_ASSIGN_OR_RETURN(p.secrets, LoadSecretKey(config_));
  log::Info("secret key loaded",
            {{"key_id", p.secrets->KeyId()}, {"from", config_.secret_key_value ? "OUTFLOW_SECRET_KEY" : "key file"}});
  {
    // Uploads cut short by a crash are never imported: clear them.
    std::error_code ec;
    fs::remove_all(fs::path(config_.data_dir) / "uploads", ec);
  }
  std::string db = DatabasePath(config_.data_dir);
  OUTFLOW_ASSIGN_OR_RETURN(p.store, SqliteStores::Open(db, SqliteOptions(), clock.Now()));
  for (const auto& m : p.store->migration_report().applied) log::Info("migration applied", {{"migration", m}});
  log::Info("store open", {{"path", db}, {"schema_version", p.store->migration_report().to_version}});
  const std::string cli_key = (fs::path(config_.data_dir) / std::string(auth::kCliKeyFileName)).string();
  OUTFLOW_RETURN_IF_ERROR(auth::EnsureCliKey(p.store->keys(), cli_key, clock.Now()));
  p.auth =
      std::make_unique<auth::Authenticator>(p.store->keys(), clock, auth::AuthOptions{.key_rate = config_.key_rate});

  p.handlers.Register("noop", std::make_shared<FunctionHandler>("does nothing; for tests and benchmarks",
                                                                [](const Job&) { return RunResult::Done(); }));
  p.handlers.Register("webhook", std::make_shared<channels::WebhookHandler>(clock, *p.outbound));
  p.contacts = std::make_unique<ContactService>(p.store->contacts(), clock);
  p.import_runner = std::make_shared<ImportRunner>(p.store->imports(), *p.contacts, clock);
  p.handlers.Register(std::string(kImportJobKind), p.import_runner);
  p.handlers.Register(std::string(kSegmentRefreshKind),
                      std::make_shared<SegmentRefresher>(p.store->segments(), clock, /*fill_only=*/false));
  p.handlers.Register(std::string(kSegmentFillKind),
                      std::make_shared<SegmentRefresher>(p.store->segments(), clock, /*fill_only=*/true));
  p.release_runner = std::make_shared<ReleaseRunner>(p.store->releases(), clock);
  p.handlers.Register(std::string(kReleaseJobKind), p.release_runner);
  p.campaign_starter = std::make_shared<CampaignStartHandler>();
  p.handlers.Register(std::string(kCampaignStartKind), p.campaign_starter);
  p.account_verifier = std::make_shared<AccountVerifyHandler>();
  p.handlers.Register(std::string(kAccountVerifyKind), p.account_verifier);

  EngineOptions eo;
  eo.node_id = config_.node_id;
  eo.workers = config_.workers;
  eo.lease = config_.lease;
  eo.batch_window = std::chrono::milliseconds(1);  // see EngineOptions; bench/engine_bench lateness
  p.engine = std::make_unique<Engine>(p.store->jobs(), clock, p.handlers, p.metrics, eo);
  p.jobs = std::make_unique<JobService>(p.store->jobs(), clock, p.handlers, p.metrics, p.engine.get());
  p.imports = std::make_unique<ImportService>(p.store->imports(), *p.contacts, *p.jobs, clock,
                                              (fs::path(config_.data_dir) / "imports").string());
  p.segments = std::make_unique<SegmentService>(p.store->segments(), *p.contacts, clock, p.jobs.get());
  p.releases = std::make_unique<ReleaseService>(p.store->releases(), *p.jobs, clock);
  // The sender builds channel senders and compiles templates through the campaign
  // service, which in turn wakes the sender and hears from it (SendListener).
  SenderOptions sending;
  sending.retry_backoff.base = config_.send_retry_base;
  sending.pacing_guard = config_.pacing_guard;
  sending.global_rules = config_.contact_rules;
  p.links = std::make_unique<LinkTracker>(*p.secrets, config_.public_url);  // the URL is final once we listen
  sending.links = p.links.get();
  sending.unsubscribe_url = [&p](const Message& m) {
    // Transactional mail (a receipt, a password reset) carries no List-Unsubscribe link.
    if (m.source.kind == SourceKind::kTransactional) return std::string();
    return p.campaigns->UnsubscribeUrl(CampaignId(m.source.id), m.contact.value());
  };
  p.sender = std::make_unique<Sender>(
      p.store->outbox(), p.store->campaigns(), [&p](const SendingAccount& a) { return p.campaigns->MakeSender(a); },
      [&p](const MessageTemplateRecord& t) { return p.campaigns->Compile(t); }, clock, sending);
  p.campaigns = std::make_unique<CampaignService>(p.store->campaigns(), *p.contacts, *p.jobs, p.sender.get(),
                                                  &*p.secrets, clock, *p.outbound);
  p.sender->SetListener(p.campaigns.get());
  p.messages = std::make_unique<MessageService>(p.store->outbox(), p.store->campaigns(), p.store->contacts(),
                                                p.sender.get(), clock);
  p.campaign_starter->SetService(p.campaigns.get());
  p.account_verifier->SetService(p.campaigns.get());
  p.api = std::make_unique<api::ApiHandler>(
      *p.jobs, p.metrics, [this] { return ready_.load(); }, p.contacts.get(), p.imports.get(), p.segments.get(),
      p.releases.get(), p.campaigns.get());

  p.api->SetAuth(p.auth.get(), config_.metrics_public);
  p.audit = std::make_unique<AuditLog>(p.store->audit());
  p.api->SetAudit(p.audit.get());
  p.hasher = std::make_unique<crypto::PasswordHasher>();
  p.users = std::make_unique<auth::UserAuth>(p.store->users(), clock, *p.hasher, SessionOptionsOf(config_));
  p.api->SetUsers(p.users.get());
  if (Result<int64_t> gone = p.store->users().PruneSessions(clock.Now(), clock.Now() - config_.session_idle);
      gone.ok() && *gone > 0) {
    log::Info("ended sessions removed", {{"sessions", *gone}});
  }
  p.api->SetMessages(p.messages.get());
  p.tracking = std::make_unique<TrackingService>(
      p.store->outbox(), p.links.get(), [&p](AccountId id) { return p.campaigns->CallbackAccountOf(id); }, clock);
  p.api->SetTracking(p.tracking.get());
  p.campaigns->SetTracking(p.tracking.get());
  p.api->SetExtraMetrics([d = p.sender.get()] { return d->RenderMetrics(); });

  api::HttpServer::Options ho;
  ho.host = config_.host;
  ho.port = config_.port;
  ho.threads = config_.http_threads;
  ho.body_limit = config_.body_limit;
  ho.upload_paths = {"/v1/imports"};
  ho.upload_dir = (fs::path(config_.data_dir) / "uploads").string();
  ho.upload_limit = config_.upload_limit;
  ho.upload_gate = [api = p.api.get()](const api::HttpRequest& r) { return api->Admit(r); };
  ho.tls_cert_file = config_.tls_cert_file;
  ho.tls_key_file = config_.tls_key_file;
  OUTFLOW_ASSIGN_OR_RETURN(ho.trusted_proxies, net::ParseCidrs(config_.trusted_proxies, "--trusted-proxy"));
  p.http =
      std::make_unique<api::HttpServer>(ho, [api = p.api.get()](const api::HttpRequest& r) { return api->Handle(r); });
  // Listen before the engine starts, so that a port in use stops us before any job runs.
  OUTFLOW_RETURN_IF_ERROR(p.http->Start());
  {
    std::string url = config_.public_url;
    if (url.empty()) {
      const bool v6 = config_.host.find(':') != std::string::npos;
      url = std::string(config_.tls_cert_file.empty() ? "http://" : "https://") +
            (v6 ? "[" + config_.host + "]" : config_.host) + ":" + std::to_string(p.http->port());
    }
    while (!url.empty() && url.back() == '/') url.pop_back();
    p.campaigns->SetPublicUrl(url);
    p.links->SetPublicUrl(url);
    p.api->SetPublicUrl(url);
    OUTFLOW_RETURN_IF_ERROR(AnnounceFirstRun(*p.users, url));
  }
  // Imports, release plans, scheduled campaigns and segment fills and refreshes need
  // no sweep: each is stored with its job in one transaction. A campaign's
  // completion is not (the outbox reports a drained source after its own commit),
  // so that one is swept.
  OUTFLOW_RETURN_IF_ERROR(p.campaigns->CompleteDrained());
  // Before the engine: a start job that runs at once wakes a sender whose
  // limiters already know when the process started.
  OUTFLOW_RETURN_IF_ERROR(p.sender->Start());
  OUTFLOW_RETURN_IF_ERROR(p.engine->Start());
  p.pruner = std::make_unique<Pruner>("finished jobs", PruneFinishedJobs(p.store->jobs()), clock,
                                      PrunerOptions{.retention = config_.job_retention});
  p.pruner->Start();
  p.audit_pruner = std::make_unique<Pruner>(
      "audit entries", [&a = p.store->audit()](Timestamp before, int limit) { return a.Prune(before, limit); }, clock,
      PrunerOptions{.retention = config_.audit_retention});
  p.audit_pruner->Start();
  ready_ = true;
  std::string allowed;  // what the outbound policy lets through its deny set
  for (const std::string& cidr : config_.outbound_allow) allowed += (allowed.empty() ? "" : ",") + cidr;
  log::Info("outflow serving", {{"addr", config_.host + ":" + std::to_string(p.http->port())},
                                {"data_dir", config_.data_dir},
                                {"node", config_.node_id},
                                {"workers", config_.workers},
                                {"tls", !config_.tls_cert_file.empty()},
                                {"outbound_allow", allowed}});
  return Status::Ok();
}

Status RunOffline(const OfflineRun& run, std::ostream& out, std::optional<ImportState>* import_state) {
  Clock& clock = SystemClock::Instance();
  std::string dir = fs::absolute(run.data_dir).lexically_normal().string();
  OUTFLOW_ASSIGN_OR_RETURN(auto lock, DataDirLock::Acquire(dir));
  OUTFLOW_ASSIGN_OR_RETURN(std::string node_id, LoadNodeId(dir));
  OUTFLOW_ASSIGN_OR_RETURN(auto store, SqliteStores::Open(DatabasePath(dir), SqliteOptions(), clock.Now()));
  HandlerRegistry handlers;
  EngineMetrics metrics;
  ContactService contacts(store->contacts(), clock);
  auto import_runner = std::make_shared<ImportRunner>(store->imports(), contacts, clock);
  auto release_runner = std::make_shared<ReleaseRunner>(store->releases(), clock);
  handlers.Register(std::string(kImportJobKind), import_runner);
  handlers.Register(std::string(kReleaseJobKind), release_runner);
  EngineOptions eo;
  eo.node_id = node_id;
  Engine engine(store->jobs(), clock, handlers, metrics, eo);
  JobService jobs(store->jobs(), clock, handlers, metrics, nullptr);
  // This node's leases from a crashed run are dead: recover them first. (Every
  // unfinished import and active plan has its job: each is stored with it.)
  OUTFLOW_RETURN_IF_ERROR(store->jobs().RecoverLeases(clock.Now(), node_id).status());
  std::optional<ImportId> new_import;
  if (run.import_file) {
    ImportService imports(store->imports(), contacts, jobs, clock, (fs::path(dir) / "imports").string());
    // The service takes the file it is given: import a copy, the user keeps theirs.
    fs::create_directories(fs::path(dir) / "uploads");
    std::random_device rd;
    std::string copy =
        (fs::path(dir) / "uploads" / ("offline-" + std::to_string(rd()) + std::to_string(rd()) + ".part")).string();
    std::error_code ec;
    fs::copy_file(*run.import_file, copy, fs::copy_options::overwrite_existing, ec);
    if (ec) return Status::InvalidArgument("cannot read " + *run.import_file + ": " + ec.message());
    Result<Import> im = imports.Create(copy, run.import_name, run.import_options);
    if (!im.ok()) {
      fs::remove(copy, ec);  // refused (e.g. an empty file): leave nothing behind
      return im.status();
    }
    new_import = im->id;
    const AuditEntry e = CliAuditEntry(
        "import.create", "import", std::to_string(im->id.value()),
        boost::json::serialize(boost::json::object{{"upload_bytes", std::to_string(im->bytes_total)}}), clock.Now());
    if (Status st = store->audit().Append(std::span(&e, 1)); !st.ok()) {
      out << "warning: the audit entry was not written: " << st.ToString() << "\n";
    }
    out << "import " << im->id.value() << " queued\n";
  }
  int total = 0;
  while (true) {
    OUTFLOW_ASSIGN_OR_RETURN(int n, engine.RunOnce(100, run.kinds));
    total += n;
    if (n == 0) break;
  }
  out << "ran " << total << " due job" << (total == 1 ? "" : "s") << "\n";
  if (std::find(run.kinds.begin(), run.kinds.end(), kImportJobKind) == run.kinds.end()) return Status::Ok();
  Result<std::vector<Import>> recent = store->imports().List(20);
  if (!recent.ok()) return recent.status();
  for (const Import& im : *recent) {
    if (new_import && im.id == *new_import && import_state != nullptr) *import_state = im.state;
    if (im.updated_at < clock.Now() - std::chrono::minutes(10)) continue;
    out << "import " << im.id.value() << " " << ImportStateName(im.state) << ": " << im.progress.rows_read
        << " rows read, " << im.progress.created << " created, " << im.progress.updated << " updated, "
        << im.progress.skipped << " skipped, " << im.progress.failed << " failed"
        << (im.error ? " (" + *im.error + ")" : "") << "\n";
  }
  return Status::Ok();
}

void Daemon::Stop() {
  Parts& p = *parts_;
  ready_ = false;
  if (p.http) p.http->StopAccepting();
  if (p.import_runner) p.import_runner->RequestStop();  // a running import stops after its batch
  if (p.sender) p.sender->Stop();
  if (p.engine) p.engine->Stop();
  if (p.pruner) p.pruner->Stop();
  if (p.audit_pruner) p.audit_pruner->Stop();
  if (p.http) p.http->Stop();
  if (p.audit) p.audit->Stop();  // after the last request: writes the entries still queued
  p.http.reset();
  p.api.reset();
  p.auth.reset();
  p.users.reset();
  p.hasher.reset();
  p.messages.reset();
  p.campaigns.reset();
  p.sender.reset();
  p.releases.reset();
  p.segments.reset();
  p.imports.reset();
  p.jobs.reset();
  p.contacts.reset();
  p.engine.reset();
  p.pruner.reset();
  p.audit_pruner.reset();
  p.store.reset();
  p.lock.reset();
}

}  // namespace outflow
