#include "app/cli.h"

#include <signal.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "api/api_client.h"
#include "app/daemon.h"
#include "base/clock.h"
#include "base/log.h"
#include "store/sqlite/sqlite_job_store.h"

#ifndef OUTFLOW_VERSION
#define OUTFLOW_VERSION "0.0.0"
#endif

namespace outflow {

namespace json = boost::json;
using api::ApiClient;
using api::ApiReply;

namespace {

int ExitFor(Code c) {
  switch (c) {
    case Code::kOk: return kExitOk;
    case Code::kInvalidArgument: return kExitInvalid;
    case Code::kNotFound: return kExitNotFound;
    case Code::kConflict: return kExitConflict;
    case Code::kUnavailable: return kExitUnavailable;
    case Code::kCorruption:
    case Code::kFailedPrecondition: return kExitBadDatabase;
    case Code::kInternal: return kExitInternal;
  }
  return kExitInternal;
}

int ExitForHttp(int status) {
  if (status >= 200 && status < 300) return kExitOk;
  if (status == 404) return kExitNotFound;
  if (status == 409) return kExitConflict;
  if (status == 503) return kExitUnavailable;
  if (status >= 400 && status < 500) return kExitInvalid;
  return kExitInternal;
}

int Fail(const Status& st) {
  std::cerr << "outflow: " << st.message() << "\n";
  return ExitFor(st.code());
}

// Prints an API error reply to stderr and returns its exit code.
int FailReply(const ApiReply& r) {
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  std::string msg = r.body;
  if (!ec && v.is_object() && v.as_object().contains("error")) {
    const json::value& e = v.at("error");
    if (e.is_object() && e.as_object().contains("message") && e.at("message").is_string()) {
      msg = std::string(e.at("message").as_string());
    }
  }
  std::cerr << "outflow: " << msg << " (HTTP " << r.status << ")\n";
  return ExitForHttp(r.status);
}

// "now", "+90s", "+5m", "+2h", "+1d", or an RFC 3339 time passed on as it is.
Result<std::string> ResolveDue(const std::string& text) {
  Timestamp now = SystemClock::Instance().Now();
  if (text == "now") return FormatRfc3339(now);
  if (!text.empty() && text[0] == '+') {
    char unit = text.back();
    std::string digits = text.substr(1, text.size() - 2);
    int64_t mult = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400 : 0;
    bool ok = mult > 0 && !digits.empty() &&
              std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
              digits.size() < 9;
    if (!ok) return Status::InvalidArgument("--due: '" + text + "' must be now, +N{s,m,h,d} or an RFC 3339 time");
    return FormatRfc3339(now + std::chrono::seconds(std::stoll(digits) * mult));
  }
  return text;
}

std::string ReadAll(const std::string& path, bool& ok) {
  std::stringstream ss;
  if (path == "-") {
    ss << std::cin.rdbuf();
    ok = true;
  } else {
    std::ifstream f(path, std::ios::binary);
    ok = static_cast<bool>(f);
    ss << f.rdbuf();
  }
  return ss.str();
}

std::string UrlEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ',') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string Str(const json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  if (v.is_null()) return "-";
  return json::serialize(v);
}

// ---- serve ----

int Serve(const DaemonConfig& cfg) {
  // Signals are taken by sigwait() on this thread; every thread started from
  // here on inherits the block, so none of them is interrupted.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  Daemon daemon(cfg);
  Status st = daemon.Start();
  if (!st.ok()) {
    log::Error("outflow could not start", {{"error", st.ToString()}});
    return Fail(st.WithContext("cannot start"));
  }
  std::cout << "Outflow is running: open http://" << (cfg.host == "0.0.0.0" ? "127.0.0.1" : cfg.host) << ":"
            << daemon.port() << "/ (data in " << cfg.data_dir << "; Ctrl-C to stop)" << std::endl;
  int sig = 0;
  sigwait(&set, &sig);
  log::Info("signal received: draining", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  // A second signal while draining ends the process at once; leases are recovered at the next start.
  std::thread([set] {
    int again = 0;
    sigwait(&set, &again);
    log::Warn("second signal: exiting without draining");
    std::_Exit(kExitInternal);
  }).detach();
  daemon.Stop();
  log::Info("outflow stopped");
  return kExitOk;
}

int Migrate(const std::string& data_dir, bool status_only) {
  std::string db = DatabasePath(data_dir);
  if (status_only) {  // reads only: works beside a running daemon, creates nothing
    Result<int> v = SqliteJobStore::ReadSchemaVersion(db);
    if (!v.ok()) return Fail(v.status());
    const int latest = SqliteJobStore::LatestSchemaVersion();
    std::cout << "schema version " << *v << " (this build knows up to " << latest << ")\n";
    return *v > latest ? kExitBadDatabase : kExitOk;
  }
  auto lock = DataDirLock::Acquire(data_dir);
  if (!lock.ok()) return Fail(lock.status());
  auto store = SqliteJobStore::Open(db, SystemClock::Instance().Now());
  if (!store.ok()) return Fail(store.status());
  const auto& rep = (*store)->migration_report();
  for (const auto& m : rep.applied) std::cout << "applied migration " << m << "\n";
  std::cout << "schema version " << rep.to_version << (rep.applied.empty() ? " (up to date)" : "") << "\n";
  return kExitOk;
}

// ---- job commands (through the API) ----

struct JobFlags {
  std::string server = "http://127.0.0.1:8080";
  bool json_out = false;
  // enqueue
  std::string kind, due, payload, key, file;
  int max_attempts = 0;
  // list
  std::string state, list_kind, due_from, due_until;
  int limit = 100;
  int64_t after = 0;
  bool all = false;
  // show, cancel
  int64_t id = 0;
};

int Enqueue(ApiClient& c, const JobFlags& f) {
  std::string target;
  std::string body;
  if (!f.file.empty()) {
    bool ok = false;
    body = ReadAll(f.file, ok);
    if (!ok) return Fail(Status::InvalidArgument("--file: cannot read " + f.file));
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (!ec && v.is_array()) body = json::serialize(json::object{{"jobs", v}});  // a bare array is a batch too
    target = "/v1/jobs/batch";
  } else {
    if (f.kind.empty()) return Fail(Status::InvalidArgument("--kind is required (or give --file)"));
    json::object o{{"kind", f.kind}};
    if (!f.due.empty()) {
      Result<std::string> due = ResolveDue(f.due);
      if (!due.ok()) return Fail(due.status());
      o["due_at"] = *due;
    }
    if (f.max_attempts > 0) o["max_attempts"] = f.max_attempts;
    if (!f.key.empty()) o["idempotency_key"] = f.key;
    if (!f.payload.empty()) {
      boost::system::error_code ec;
      json::value p = json::parse(f.payload, ec);
      if (ec) return Fail(Status::InvalidArgument("--payload: not valid JSON: " + ec.message()));
      o["payload"] = p;
    }
    body = json::serialize(o);
    target = "/v1/jobs";
  }
  Result<ApiReply> r = c.Call("POST", target, body);
  if (!r.ok()) return Fail(r.status());
  if (r->status >= 300) return FailReply(*r);
  if (f.json_out) {
    std::cout << r->body << "\n";
    return kExitOk;
  }
  json::value v = json::parse(r->body);
  if (target == "/v1/jobs") {
    std::cout << (r->status == 201 ? "enqueued job " : "job already exists: ") << v.at("id").as_int64() << " ("
              << Str(v.at("kind")) << ", due " << Str(v.at("due_at")) << ")\n";
  } else {
    std::cout << "enqueued " << v.at("created").as_int64() << " of " << v.at("jobs").as_array().size()
              << " jobs (the rest already existed)\n";
  }
  return kExitOk;
}

int List(ApiClient& c, const JobFlags& f) {
  int64_t after = f.after;
  bool header = false;
  while (true) {
    std::string q = "/v1/jobs?limit=" + std::to_string(f.limit);
    if (after > 0) q += "&after=" + std::to_string(after);
    if (!f.state.empty()) q += "&state=" + UrlEncode(f.state);
    if (!f.list_kind.empty()) q += "&kind=" + UrlEncode(f.list_kind);
    if (!f.due_from.empty()) q += "&due_from=" + UrlEncode(f.due_from);
    if (!f.due_until.empty()) q += "&due_until=" + UrlEncode(f.due_until);
    Result<ApiReply> r = c.Call("GET", q);
    if (!r.ok()) return Fail(r.status());
    if (r->status >= 300) return FailReply(*r);
    json::value v = json::parse(r->body);
    if (f.json_out) {
      std::cout << r->body << "\n";
    } else {
      if (!header) {
        std::printf("%-10s %-16s %-10s %-28s %-8s %s\n", "ID", "KIND", "STATE", "DUE", "ATTEMPTS", "LAST ERROR");
        header = true;
      }
      for (const auto& j : v.at("jobs").as_array()) {
        std::string attempts =
            std::to_string(j.at("attempts").as_int64()) + "/" + std::to_string(j.at("max_attempts").as_int64());
        std::printf("%-10lld %-16s %-10s %-28s %-8s %s\n", static_cast<long long>(j.at("id").as_int64()),
                    Str(j.at("kind")).c_str(), Str(j.at("state")).c_str(), Str(j.at("due_at")).c_str(),
                    attempts.c_str(), Str(j.at("last_error")).substr(0, 60).c_str());
      }
    }
    const json::value& next = v.at("next_after");
    if (!f.all || next.is_null()) {
      if (!f.all && !next.is_null() && !f.json_out) {
        std::cout << "(more: --after " << next.as_int64() << ", or --all)\n";
      }
      return kExitOk;
    }
    after = next.as_int64();
  }
}

int ShowOrCancel(ApiClient& c, const JobFlags& f, bool cancel) {
  std::string target = "/v1/jobs/" + std::to_string(f.id) + (cancel ? "/cancel" : "");
  Result<ApiReply> r = c.Call(cancel ? "POST" : "GET", target);
  if (!r.ok()) return Fail(r.status());
  if (r->status >= 300) return FailReply(*r);
  if (cancel && !f.json_out) {
    std::cout << "cancelled job " << f.id << "\n";
    return kExitOk;
  }
  json::value v = json::parse(r->body);
  if (f.json_out) {
    std::cout << r->body << "\n";
  } else {
    for (const auto& [k, val] : v.as_object()) std::printf("%-17s %s\n", std::string(k).c_str(), Str(val).c_str());
  }
  return kExitOk;
}

int Kinds(ApiClient& c) {
  Result<ApiReply> r = c.Call("GET", "/v1/kinds");
  if (!r.ok()) return Fail(r.status());
  if (r->status >= 300) return FailReply(*r);
  for (const auto& k : json::parse(r->body).at("kinds").as_array()) {
    std::printf("%-12s %s\n", Str(k.at("kind")).c_str(), Str(k.at("description")).c_str());
  }
  return kExitOk;
}

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App app{
      "Outflow: a durable campaign scheduling and marketing automation engine.\n"
      "Exit codes: 0 ok, 1 internal, 2 usage, 3 invalid input, 4 not found, 5 conflict,\n"
      "6 unavailable, 7 refused database (corrupt or newer).",
      "outflow"};
  app.set_config("--config", "", "read options from a TOML/INI file ([serve] section for serve's flags)");
  app.allow_config_extras(CLI::config_extras_mode::error);  // a misspelt key is an error, not ignored
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "debug, info, warn, error or off")->envname("OUTFLOW_LOG_LEVEL");

  DaemonConfig cfg;
  std::string addr = "127.0.0.1:8080";
  int lease_seconds = 300;
  auto* serve = app.add_subcommand("serve", "run the daemon: the engine and the HTTP API");
  serve->add_option("--addr", addr, "listen address host:port")->envname("OUTFLOW_ADDR")->capture_default_str();
  serve->add_option("--data-dir", cfg.data_dir, "data directory (database, lock, node id)")
      ->envname("OUTFLOW_DATA_DIR")
      ->capture_default_str();
  serve->add_option("--workers", cfg.workers, "job worker threads")
      ->envname("OUTFLOW_WORKERS")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  serve->add_option("--http-threads", cfg.http_threads, "HTTP I/O threads")
      ->envname("OUTFLOW_HTTP_THREADS")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  serve->add_option("--node-id", cfg.node_id, "lease owner name (default: kept in <data-dir>/node_id)")
      ->envname("OUTFLOW_NODE_ID");
  serve->add_option("--body-limit", cfg.body_limit, "largest request body in bytes")
      ->envname("OUTFLOW_BODY_LIMIT")
      ->check(CLI::Range(size_t{1024}, size_t{1} << 30))
      ->capture_default_str();
  serve->add_option("--lease-seconds", lease_seconds, "how long a claimed job is held before another node may take it; longer than any handler's timeout (webhook: 60 s at most)")
      ->envname("OUTFLOW_LEASE_SECONDS")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();

  std::string migrate_dir = "./data";
  bool migrate_status = false;
  auto* migrate = app.add_subcommand("migrate", "apply database migrations (serve also does this at start)");
  migrate->add_option("--data-dir", migrate_dir, "data directory")->envname("OUTFLOW_DATA_DIR")->capture_default_str();
  migrate->add_flag("--status", migrate_status, "only print the schema version");

  auto* version = app.add_subcommand("version", "print the version");

  JobFlags jf;
  auto* job = app.add_subcommand("job", "enqueue, list, show and cancel jobs (through the daemon's API)");
  job->require_subcommand(1);
  job->add_option("--server", jf.server, "the daemon's URL")->envname("OUTFLOW_SERVER")->capture_default_str();
  job->add_flag("--json", jf.json_out, "print the API's JSON");
  auto* enqueue = job->add_subcommand("enqueue", "enqueue one job, or a batch from --file");
  enqueue->add_option("--kind", jf.kind, "job kind (see 'outflow job kinds')");
  enqueue->add_option("--due", jf.due, "now, +N{s,m,h,d}, or an RFC 3339 time (default now)");
  enqueue->add_option("--payload", jf.payload, "JSON object for the handler");
  enqueue->add_option("--key", jf.key, "idempotency key: a second enqueue returns the first job");
  enqueue->add_option("--max-attempts", jf.max_attempts, "attempts before the job is dead (default 5)")
      ->check(CLI::Range(1, 100));
  enqueue->add_option("--file", jf.file,
                      "a JSON file ({\"jobs\": [...]} or [...]; - for stdin): one batch, all or nothing");
  auto* list = job->add_subcommand("list", "list jobs, oldest first");
  list->add_option("--state", jf.state, "comma-separated: ready, leased, done, retrying, dead, cancelled");
  list->add_option("--kind", jf.list_kind, "only this kind");
  list->add_option("--due-from", jf.due_from, "due at or after this RFC 3339 time");
  list->add_option("--due-until", jf.due_until, "due before this RFC 3339 time");
  list->add_option("--limit", jf.limit, "page size")->check(CLI::Range(1, 1000))->capture_default_str();
  list->add_option("--after", jf.after, "start after this job id");
  list->add_flag("--all", jf.all, "follow every page");
  auto* show = job->add_subcommand("show", "show one job");
  show->add_option("id", jf.id, "job id")->required();
  auto* cancel = job->add_subcommand("cancel", "cancel a ready or retrying job");
  cancel->add_option("id", jf.id, "job id")->required();
  auto* kinds = job->add_subcommand("kinds", "list the job kinds the daemon runs");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }

  log::Level level;
  if (!log::ParseLevel(log_level, level))
    return Fail(Status::InvalidArgument("--log-level: unknown level '" + log_level + "'"));
  log::SetLevel(level);

  if (*version) {
    std::cout << "outflow " << OUTFLOW_VERSION << " (schema " << SqliteJobStore::LatestSchemaVersion() << ")\n";
    return kExitOk;
  }
  if (*serve) {
    Status st = ParseListenAddress(addr, cfg.host, cfg.port);
    if (!st.ok()) {
      std::cerr << "outflow: --" << st.message() << "\n";
      return kExitUsage;
    }
    cfg.lease = std::chrono::seconds(lease_seconds);
    return Serve(cfg);
  }
  if (*migrate) return Migrate(migrate_dir, migrate_status);
  if (*job) {
    Result<ApiClient> client = ApiClient::Create(jf.server);
    if (!client.ok()) return Fail(client.status());
    if (*enqueue) return Enqueue(*client, jf);
    if (*list) return List(*client, jf);
    if (*show) return ShowOrCancel(*client, jf, false);
    if (*cancel) return ShowOrCancel(*client, jf, true);
    if (*kinds) return Kinds(*client);
  }
  return kExitUsage;
}

}  // namespace outflow
