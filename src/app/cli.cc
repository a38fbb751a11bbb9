#include "app/cli.h"

#include <signal.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include <unistd.h>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <thread>
#include <tuple>

#include "api/api_client.h"
#include "app/cli_audit.h"
#include "app/cli_campaigns.h"
#include "app/cli_common.h"
#include "app/cli_keys.h"
#include "app/cli_secrets.h"
#include "app/cli_users.h"
#include "app/daemon.h"
#include "audit/audit_log.h"
#include "base/clock.h"
#include "base/log.h"
#include "codec/contact_rules_json.h"
#include "crypto/secret_box.h"
#include "domain/segment.h"
#include "ingest/import_service.h"
#include "ingest/release_service.h"
#include "net/outbound_policy.h"
#include "store/sqlite/sqlite_job_store.h"

#ifndef OUTFLOW_VERSION
#define OUTFLOW_VERSION "0.0.0"
#endif

namespace outflow {

namespace json = boost::json;
using api::ApiClient;
using api::ApiReply;
using cli::AwaitImport;
using cli::CallAndPrint;
using cli::Fail;
using cli::FailReply;
using cli::ReadAll;
using cli::Str;
using cli::UrlEncode;

namespace {

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

// A duration flag: "90s", "30m", "12h", "500ms", or whole seconds ("90").
Result<Duration> ParseDurationFlag(const std::string& flag, const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  const std::string unit = text.substr(digits);
  const Status bad =
      Status::InvalidArgument(flag + ": '" + text + "' must be a duration such as 90s, 30m, 12h or 500ms");
  if (digits == 0 || digits > 9) return bad;
  const int64_t n = std::stoll(text.substr(0, digits));
  if (unit.empty() || unit == "s") return Duration(std::chrono::seconds(n));
  if (unit == "ms") return Duration(std::chrono::milliseconds(n));
  if (unit == "m") return Duration(std::chrono::minutes(n));
  if (unit == "h") return Duration(std::chrono::hours(n));
  return bad;
}

// ---- keygen ----

int KeyGen(const std::string& path, bool if_missing) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path().empty()
                                          ? std::filesystem::path(".")
                                          : std::filesystem::path(path).parent_path(),
                                      ec);
  Status st = SecretBox::GenerateKeyFile(path);
  if (st.code() == Code::kConflict && if_missing) {
    std::cout << "key file " << path << " exists; kept\n";
    return kExitOk;
  }
  if (!st.ok()) return Fail(st);
  std::cout << "created key file " << path
            << " (mode 0600). Back it up: without it, stored credentials cannot be read.\n";
  return kExitOk;
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
  std::cout << "Outflow is running: open " << (cfg.tls_cert_file.empty() ? "http" : "https") << "://"
            << (cfg.host == "0.0.0.0" ? "127.0.0.1" : cfg.host) << ":" << daemon.port() << "/ (data in " << cfg.data_dir
            << "; Ctrl-C to stop)" << std::endl;
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
  if (!rep.applied.empty()) {
    cli::RecordCliChange(
        db,
        CliAuditEntry("schema.migrate", "schema", std::to_string(rep.to_version),
                      boost::json::serialize(boost::json::object{{"from", rep.from_version}, {"to", rep.to_version}}),
                      SystemClock::Instance().Now()));
  }
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
  const json::value kinds = json::parse(r->body);  // kept alive while we loop over it
  for (const auto& k : kinds.at("kinds").as_array()) {
    std::printf("%-12s %s\n", Str(k.at("kind")).c_str(), Str(k.at("description")).c_str());
  }
  return kExitOk;
}

// ---- contact and field commands (through the API) ----

struct ContactFlags {
  std::string email, phone, first_name, last_name, time_zone, locale, owner, stage, tier, external_id, status;
  std::string score;
  std::vector<std::string> fields;  // name=value
  std::string on_existing = "update";
  std::string file;
  // list
  int limit = 100;
  int64_t after = 0;
  bool all = false;
  int64_t id = 0;
  // field define
  std::string field_name, field_type, field_label;
};

// The JSON object that the contact flags describe; flags not given are left out.
Result<json::object> ContactJsonFromFlags(const ContactFlags& f) {
  json::object o;
  auto put = [&](const char* key, const std::string& v) {
    if (!v.empty()) o[key] = v;
  };
  put("email", f.email);
  put("phone", f.phone);
  put("first_name", f.first_name);
  put("last_name", f.last_name);
  put("time_zone", f.time_zone);
  put("locale", f.locale);
  put("owner", f.owner);
  put("pipeline_stage", f.stage);
  put("tier", f.tier);
  put("external_id", f.external_id);
  put("status", f.status);
  if (!f.score.empty()) {
    char* end = nullptr;
    double d = std::strtod(f.score.c_str(), &end);
    if (end != f.score.c_str() + f.score.size()) {
      return Status::InvalidArgument("--score: '" + f.score + "' is not a number");
    }
    o["engagement_score"] = d;
  }
  if (!f.fields.empty()) {
    json::object custom;
    for (const std::string& kv : f.fields) {
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        return Status::InvalidArgument("--field: '" + kv + "' must be name=value");
      }
      custom[kv.substr(0, eq)] = kv.substr(eq + 1);  // the server converts text to the field's type
    }
    o["custom"] = std::move(custom);
  }
  return o;
}

void PrintContact(const json::value& c) {
  for (const auto& [k, val] : c.as_object()) std::printf("%-17s %s\n", std::string(k).c_str(), Str(val).c_str());
}

int ContactCommand(ApiClient& c, const std::string& verb, const ContactFlags& f, bool json_out) {
  const std::string id = std::to_string(f.id);
  if (verb == "get") return CallAndPrint(c, "GET", "/v1/contacts/" + id, "", json_out, PrintContact);
  if (verb == "delete") {
    return CallAndPrint(c, "DELETE", "/v1/contacts/" + id, "", json_out,
                        [&](const json::value&) { std::cout << "deleted contact " << id << "\n"; });
  }
  if (verb == "count" || verb == "list") {
    std::string q;
    auto add = [&](const char* k, const std::string& v) {
      if (!v.empty()) q += std::string(q.empty() ? "?" : "&") + k + "=" + UrlEncode(v);
    };
    add("email", f.email);
    add("external_id", f.external_id);
    add("owner", f.owner);
    add("pipeline_stage", f.stage);
    add("tier", f.tier);
    add("status", f.status);
    if (verb == "count") {
      return CallAndPrint(c, "GET", "/v1/contacts/count" + q, "", json_out,
                          [](const json::value& v) { std::cout << v.at("count").as_int64() << "\n"; });
    }
    add("limit", std::to_string(f.limit));
    int64_t after = f.after;
    bool header = false;
    while (true) {
      std::string target = "/v1/contacts" + q + (after > 0 ? "&after=" + std::to_string(after) : "");
      int64_t next = 0;
      int rc = CallAndPrint(c, "GET", target, "", json_out, [&](const json::value& v) {
        if (!header) {
          std::printf("%-8s %-32s %-16s %-20s %-10s %s\n", "ID", "EMAIL", "PHONE", "NAME", "STATUS", "OWNER");
          header = true;
        }
        for (const auto& ct : v.at("contacts").as_array()) {
          std::string name;
          for (const char* k : {"first_name", "last_name"}) {
            if (ct.at(k).is_string()) name += (name.empty() ? "" : " ") + std::string(ct.at(k).as_string());
          }
          if (name.empty()) name = "-";
          std::printf("%-8lld %-32s %-16s %-20s %-10s %s\n", static_cast<long long>(ct.at("id").as_int64()),
                      Str(ct.at("email")).c_str(), Str(ct.at("phone")).c_str(), name.c_str(),
                      Str(ct.at("status")).c_str(), Str(ct.at("owner")).c_str());
        }
        if (!v.at("next_after").is_null()) next = v.at("next_after").as_int64();
      });
      if (json_out && rc == kExitOk) {  // the page's JSON was printed; find the cursor for --all
        Result<ApiReply> again = c.Call("GET", target);
        if (again.ok() && again->status < 300) {
          json::value v = json::parse(again->body);
          if (!v.at("next_after").is_null()) next = v.at("next_after").as_int64();
        }
      }
      if (rc != kExitOk || !f.all || next == 0) {
        if (rc == kExitOk && next != 0 && !f.all && !json_out)
          std::cout << "(more: --after " << next << ", or --all)\n";
        return rc;
      }
      after = next;
    }
  }
  std::string body;
  if (!f.file.empty()) {
    bool ok = false;
    body = ReadAll(f.file, ok);
    if (!ok) return Fail(Status::InvalidArgument("--file: cannot read " + f.file));
  } else {
    Result<json::object> o = ContactJsonFromFlags(f);
    if (!o.ok()) return Fail(o.status());
    body = json::serialize(*o);
  }
  if (verb == "create") return CallAndPrint(c, "POST", "/v1/contacts", body, json_out, PrintContact);
  if (verb == "update") return CallAndPrint(c, "PATCH", "/v1/contacts/" + id, body, json_out, PrintContact);
  // upsert
  return CallAndPrint(
      c, "POST", "/v1/contacts/upsert?on_existing=" + UrlEncode(f.on_existing), body, json_out,
      [](const json::value& v) {
        if (v.as_object().contains("counts")) {
          const auto& n = v.at("counts");
          std::cout << "created " << n.at("created").as_int64() << ", updated " << n.at("updated").as_int64()
                    << ", skipped " << n.at("skipped").as_int64() << ", failed " << n.at("failed").as_int64() << "\n";
          for (const auto& r : v.at("results").as_array()) {
            if (r.as_object().contains("error")) std::cout << "  " << Str(r.at("error")) << "\n";
          }
        } else {
          std::cout << Str(v.at("outcome")) << " contact " << v.at("contact").at("id").as_int64() << "\n";
        }
      });
}

int FieldCommand(ApiClient& c, const std::string& verb, const ContactFlags& f, bool json_out) {
  if (verb == "list") {
    return CallAndPrint(c, "GET", "/v1/fields", "", json_out, [](const json::value& v) {
      for (const auto& fd : v.at("fields").as_array()) {
        std::printf("%-24s %-10s %s\n", Str(fd.at("name")).c_str(), Str(fd.at("type")).c_str(),
                    Str(fd.at("label")).c_str());
      }
    });
  }
  json::object o{{"name", f.field_name}, {"type", f.field_type}};
  if (!f.field_label.empty()) o["label"] = f.field_label;
  return CallAndPrint(c, "POST", "/v1/fields", json::serialize(o), json_out, [](const json::value& v) {
    std::cout << "field " << Str(v.at("name")) << " (" << Str(v.at("type")) << ")\n";
  });
}

// ---- imports (through the API) ----

struct ImportFlags {
  std::string file, name, delimiter, on_existing, owner, segment, data_dir;
  bool staging = false, create_fields = false, no_wait = false;
  std::vector<std::string> maps;  // Column=field
  int64_t id = 0;
};

void PrintImportSummary(const json::value& im) {
  std::cout << "import " << im.at("id").as_int64() << " " << Str(im.at("state")) << ": "
            << im.at("rows_read").as_int64() << " rows read, " << im.at("created").as_int64() << " created, "
            << im.at("updated").as_int64() << " updated, " << im.at("skipped").as_int64() << " skipped, "
            << im.at("failed").as_int64() << " failed\n";
  if (!im.at("error").is_null()) std::cout << "error: " << Str(im.at("error")) << "\n";
  if (im.at("failed").as_int64() > 0) {
    std::cout << "error report: outflow imports errors " << im.at("id").as_int64() << "\n";
  }
}

int ImportExitCode(const json::value& im) {
  std::string state = Str(im.at("state"));
  if (state == "completed") return kExitOk;
  if (state == "failed") return kExitInvalid;
  return kExitConflict;  // cancelled
}

Result<ImportOptions> OfflineImportOptions(const ImportFlags& f) {
  ImportOptions o;
  if (f.delimiter == "comma")
    o.delimiter = ',';
  else if (f.delimiter == "semicolon")
    o.delimiter = ';';
  else if (f.delimiter == "tab")
    o.delimiter = '\t';
  else if (!f.delimiter.empty() && f.delimiter != "detect") {
    return Status::InvalidArgument("--delimiter: must be comma, semicolon, tab or detect");
  }
  if (!f.on_existing.empty()) {
    auto e = ParseOnExisting(f.on_existing);
    if (!e) return Status::InvalidArgument("--on-existing: must be update, skip or fail");
    o.on_existing = *e;
  }
  if (!f.owner.empty()) o.owner = f.owner;
  if (!f.segment.empty()) {
    OUTFLOW_RETURN_IF_ERROR(ValidateSegmentName(f.segment).WithContext("--segment"));
    o.segment = f.segment;
  }
  o.staging = f.staging;
  o.create_fields = f.create_fields;
  for (const std::string& m : f.maps) {
    auto eq = m.rfind('=');
    if (eq == std::string::npos) return Status::InvalidArgument("--map: '" + m + "' must be Column=field");
    o.mapping[m.substr(0, eq)] = m.substr(eq + 1);
  }
  return o;
}

int RunImport(ApiClient& c, const ImportFlags& f) {
  std::string q =
      "/v1/imports?name=" + UrlEncode(f.name.empty() ? std::filesystem::path(f.file).filename().string() : f.name);
  if (!f.delimiter.empty()) q += "&delimiter=" + UrlEncode(f.delimiter);
  if (!f.on_existing.empty()) q += "&on_existing=" + UrlEncode(f.on_existing);
  if (!f.owner.empty()) q += "&owner=" + UrlEncode(f.owner);
  if (!f.segment.empty()) q += "&segment=" + UrlEncode(f.segment);
  if (f.staging) q += "&staging=true";
  if (f.create_fields) q += "&create_fields=true";
  for (const std::string& m : f.maps) {
    auto eq = m.rfind('=');
    if (eq == std::string::npos) return Fail(Status::InvalidArgument("--map: '" + m + "' must be Column=field"));
    q += "&map=" + UrlEncode(m.substr(0, eq) + ":" + m.substr(eq + 1));
  }
  Result<ApiReply> r = c.Upload(q, f.file);
  if (!r.ok()) return Fail(r.status());
  if (r->status >= 300) return FailReply(*r);
  json::value im = json::parse(r->body);
  const int64_t id = im.at("id").as_int64();
  if (f.no_wait) {
    std::cout << "import " << id << " queued\n";
    return kExitOk;
  }
  const bool tty = isatty(STDERR_FILENO);
  int rc = AwaitImport(c, im, [tty](const json::value& now) {
    if (!tty) return;
    double total = static_cast<double>(now.at("bytes_total").to_number<int64_t>());
    double done = static_cast<double>(now.at("bytes_done").to_number<int64_t>());
    int pct = total > 0 ? static_cast<int>(100.0 * done / total) : 0;
    std::string bar(static_cast<size_t>(pct / 4), '#');
    bar.resize(25, '.');
    std::fprintf(stderr, "\r[%s] %3d%% %s: %lld rows, %lld failed   ", bar.c_str(), pct, Str(now.at("state")).c_str(),
                 static_cast<long long>(now.at("rows_read").as_int64()),
                 static_cast<long long>(now.at("failed").as_int64()));
  });
  if (rc != kExitOk) return rc;
  if (tty) std::fprintf(stderr, "\r%80s\r", "");
  PrintImportSummary(im);
  return ImportExitCode(im);
}

int ImportsCommand(ApiClient& c, const std::string& verb, const ImportFlags& f, bool json_out) {
  const std::string id = std::to_string(f.id);
  if (verb == "list") {
    return CallAndPrint(c, "GET", "/v1/imports", "", json_out, [](const json::value& v) {
      std::printf("%-6s %-10s %-28s %10s %10s %8s\n", "ID", "STATE", "FILE", "ROWS", "CREATED", "FAILED");
      for (const auto& im : v.at("imports").as_array()) {
        std::printf("%-6lld %-10s %-28s %10lld %10lld %8lld\n", static_cast<long long>(im.at("id").as_int64()),
                    Str(im.at("state")).c_str(), Str(im.at("file_name")).substr(0, 28).c_str(),
                    static_cast<long long>(im.at("rows_read").as_int64()),
                    static_cast<long long>(im.at("created").as_int64()),
                    static_cast<long long>(im.at("failed").as_int64()));
      }
    });
  }
  if (verb == "show") return CallAndPrint(c, "GET", "/v1/imports/" + id, "", json_out, PrintImportSummary);
  if (verb == "cancel")
    return CallAndPrint(c, "POST", "/v1/imports/" + id + "/cancel", "", json_out, PrintImportSummary);
  // errors: the CSV report as it is
  Result<ApiReply> r = c.Call("GET", "/v1/imports/" + id + "/errors");
  if (!r.ok()) return Fail(r.status());
  if (r->status >= 300) return FailReply(*r);
  std::cout << r->body;
  return kExitOk;
}

// ---- segments (through the API) ----

struct SegmentFlags {
  std::string name, filter;
  bool is_static = false;
  int64_t id = 0;
  std::vector<int64_t> contact_ids;
  int limit = 100;
  int64_t after = 0;
};

void PrintSegment(const json::value& s) {
  std::printf("%-6lld %-24s %-8s %10lld  %s\n", static_cast<long long>(s.at("id").as_int64()),
              Str(s.at("name")).c_str(), Str(s.at("kind")).c_str(),
              static_cast<long long>(s.at("member_count").as_int64()),
              s.at("filter").is_null() ? "" : json::serialize(s.at("filter")).c_str());
}

int SegmentCommand(ApiClient& c, const std::string& verb, const SegmentFlags& f, bool json_out) {
  const std::string id = std::to_string(f.id);
  if (verb == "list") {
    return CallAndPrint(c, "GET", "/v1/segments", "", json_out, [](const json::value& v) {
      std::printf("%-6s %-24s %-8s %10s  %s\n", "ID", "NAME", "KIND", "MEMBERS", "FILTER");
      for (const auto& s : v.at("segments").as_array()) PrintSegment(s);
    });
  }
  if (verb == "show") return CallAndPrint(c, "GET", "/v1/segments/" + id, "", json_out, PrintSegment);
  if (verb == "delete") {
    return CallAndPrint(c, "DELETE", "/v1/segments/" + id, "", json_out,
                        [&](const json::value&) { std::cout << "deleted segment " << id << "\n"; });
  }
  if (verb == "members") {
    std::string q = "/v1/segments/" + id + "/members?limit=" + std::to_string(f.limit);
    if (f.after > 0) q += "&after=" + std::to_string(f.after);
    return CallAndPrint(c, "GET", q, "", json_out, [](const json::value& v) {
      for (const auto& m : v.at("contact_ids").as_array()) std::cout << m.as_int64() << "\n";
      if (!v.at("next_after").is_null()) std::cout << "(more: --after " << v.at("next_after").as_int64() << ")\n";
    });
  }
  if (verb == "add" || verb == "remove") {
    json::array ids;
    for (int64_t x : f.contact_ids) ids.push_back(x);
    std::string body = json::serialize(json::object{{"contact_ids", std::move(ids)}});
    std::string target = "/v1/segments/" + id + "/members" + (verb == "remove" ? "/remove" : "");
    return CallAndPrint(c, "POST", target, body, json_out, [&](const json::value& v) {
      const char* key = verb == "add" ? "added" : "removed";
      std::cout << key << " " << v.at(key).as_int64() << "\n";
    });
  }
  // create
  json::object o{{"name", f.name}, {"kind", f.is_static ? "static" : "dynamic"}};
  if (!f.filter.empty()) {
    boost::system::error_code ec;
    json::value filter = json::parse(f.filter, ec);
    if (ec) return Fail(Status::InvalidArgument("--filter: not valid JSON: " + ec.message()));
    o["filter"] = filter;
  } else if (!f.is_static) {
    return Fail(Status::InvalidArgument("--filter is required for a dynamic segment (or give --static)"));
  }
  return CallAndPrint(c, "POST", "/v1/segments", json::serialize(o), json_out, PrintSegment);
}

// ---- paced release (through the API) ----

struct ReleaseFlags {
  std::string name, time_zone = "UTC";
  int64_t per = 0, every = 0, id = 0;
  double ramp = 0;
  std::vector<std::string> windows;  // "mon-fri 09:00-17:00"
  std::string change_zone;
  std::optional<double> change_ramp;
};

void PrintPlan(const json::value& p) {
  std::string windows;
  for (const auto& w : p.at("windows").as_array()) {
    windows += (windows.empty() ? "" : ", ") + Str(w.at("days")) + " " + Str(w.at("start")) + "-" + Str(w.at("end"));
  }
  std::printf("%-4lld %-20s %-10s %6lld every %5llds  released %-8lld next %s  %s %s\n",
              static_cast<long long>(p.at("id").as_int64()), Str(p.at("name")).c_str(), Str(p.at("state")).c_str(),
              static_cast<long long>(p.at("per_slot").as_int64()),
              static_cast<long long>(p.at("interval_seconds").as_int64()),
              static_cast<long long>(p.at("released_total").as_int64()), Str(p.at("next_slot_at")).c_str(),
              Str(p.at("time_zone")).c_str(), windows.empty() ? "any time" : windows.c_str());
}

int ReleaseCommand(ApiClient& c, const std::string& verb, const ReleaseFlags& f, bool json_out) {
  const std::string id = std::to_string(f.id);
  if (verb == "list") {
    return CallAndPrint(c, "GET", "/v1/releases", "", json_out, [](const json::value& v) {
      std::cout << v.at("staged").as_int64() << " contacts in staging\n";
      for (const auto& p : v.at("releases").as_array()) PrintPlan(p);
    });
  }
  if (verb == "show") return CallAndPrint(c, "GET", "/v1/releases/" + id, "", json_out, PrintPlan);
  if (verb == "pause" || verb == "resume" || verb == "cancel") {
    return CallAndPrint(c, "POST", "/v1/releases/" + id + "/" + verb, "", json_out, PrintPlan);
  }
  if (verb == "log") {
    return CallAndPrint(c, "GET", "/v1/releases/" + id + "/log", "", json_out, [](const json::value& v) {
      for (const auto& e : v.at("log").as_array()) {
        std::cout << Str(e.at("at")) << "  released " << e.at("released").as_int64() << "\n";
      }
    });
  }
  // create or change
  json::array windows;
  for (const std::string& w : f.windows) {  // "mon-fri 09:00-17:00"
    auto space = w.find(' ');
    auto dash = w.rfind('-');
    if (space == std::string::npos || dash == std::string::npos || dash < space) {
      return Fail(Status::InvalidArgument("--window: '" + w + "' must be like 'mon-fri 09:00-17:00'"));
    }
    windows.push_back(json::object{
        {"days", w.substr(0, space)}, {"start", w.substr(space + 1, dash - space - 1)}, {"end", w.substr(dash + 1)}});
  }
  if (verb == "change") {
    json::object o;
    if (f.per > 0) o["per_slot"] = f.per;
    if (f.every > 0) o["interval_seconds"] = f.every;
    if (!f.change_zone.empty()) o["time_zone"] = f.change_zone;
    if (!f.windows.empty()) o["windows"] = std::move(windows);
    if (f.change_ramp) o["ramp_percent_per_day"] = *f.change_ramp;
    return CallAndPrint(c, "PATCH", "/v1/releases/" + id, json::serialize(o), json_out, PrintPlan);
  }
  json::object o{{"name", f.name},
                 {"per_slot", f.per},
                 {"interval_seconds", f.every},
                 {"time_zone", f.time_zone},
                 {"windows", std::move(windows)},
                 {"ramp_percent_per_day", f.ramp}};
  return CallAndPrint(c, "POST", "/v1/releases", json::serialize(o), json_out, PrintPlan);
}

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App app{
      "Outflow: a durable campaign scheduling and marketing automation engine.\n"
      "Exit codes: 0 ok, 1 internal, 2 usage, 3 invalid input, 4 not found, 5 conflict,\n"
      "6 unavailable, 7 refused database (corrupt or newer), 8 not allowed (HTTP 401, 403).",
      "outflow"};
  app.set_config("--config", "", "read options from a TOML/INI file ([serve] section for serve's flags)");
  app.allow_config_extras(CLI::config_extras_mode::error);  // a misspelt key is an error, not ignored
  app.require_subcommand(1, 1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "debug, info, warn, error or off")->envname("OUTFLOW_LOG_LEVEL");
  // The API key of the commands that call the daemon, given before or after the
  // command (fallthrough); without one, the data directory's cli.key (docs/security.md).
  app.fallthrough();
  std::string api_key;
  app.add_option("--api-key", api_key, "API key for commands that call the daemon (default: the key in --api-key-file)")
      ->envname("OUTFLOW_API_KEY");
  const char* env_dir = std::getenv("OUTFLOW_DATA_DIR");
  std::string api_key_file = std::string(env_dir != nullptr && *env_dir != '\0' ? env_dir : "./data") + "/cli.key";
  app.add_option("--api-key-file", api_key_file, "file holding the API key (serve keeps an admin key there, mode 0600)")
      ->envname("OUTFLOW_API_KEY_FILE")
      ->capture_default_str();
  auto connect = [&](const std::string& server) {
    return ApiClient::Create(server, cli::ResolveApiKey(api_key, api_key_file));
  };

  DaemonConfig cfg;
  std::string addr = "127.0.0.1:8080";
  int lease_seconds = 300;
  int job_retention_days = 30;
  int audit_retention_days = 365;
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
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  serve->add_option("--node-id", cfg.node_id, "lease owner name (default: kept in <data-dir>/node_id)")
      ->envname("OUTFLOW_NODE_ID");
  serve->add_option("--body-limit", cfg.body_limit, "largest request body in bytes")
      ->envname("OUTFLOW_BODY_LIMIT")
      ->check(CLI::Range(size_t{1024}, size_t{1} << 30))
      ->capture_default_str();
  serve->add_option("--upload-limit", cfg.upload_limit, "largest CSV upload in bytes")
      ->envname("OUTFLOW_UPLOAD_LIMIT")
      ->check(CLI::Range(uint64_t{1024}, uint64_t{1} << 40))
      ->capture_default_str();
  serve
      ->add_option("--lease-seconds", lease_seconds,
                   "how long a claimed job is held before another node may take it; longer than any handler's timeout "
                   "(webhook: 60 s at most)")
      ->envname("OUTFLOW_LEASE_SECONDS")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  serve
      ->add_option("--job-retention-days", job_retention_days,
                   "finished jobs (done, dead, cancelled) are deleted this many days after they finished")
      ->envname("OUTFLOW_JOB_RETENTION_DAYS")
      ->check(CLI::Range(1, 36500))
      ->capture_default_str();
  serve
      ->add_option("--audit-retention-days", audit_retention_days,
                   "audit entries are deleted this many days after they were written")
      ->envname("OUTFLOW_AUDIT_RETENTION_DAYS")
      ->check(CLI::Range(1, 36500))
      ->capture_default_str();

  serve
      ->add_option("--secret-key-file", cfg.secret_key_file,
                   "key that encrypts account credentials (default: <data-dir>/secret.key; OUTFLOW_SECRET_KEY, "
                   "64 hex characters, takes precedence)")
      ->envname("OUTFLOW_SECRET_KEY_FILE");

  int64_t send_retry_base_ms = 30000;
  serve
      ->add_option("--send-retry-base-ms", send_retry_base_ms,
                   "first retry delay after a transient send failure; doubles per attempt, up to 1 h")
      ->envname("OUTFLOW_SEND_RETRY_BASE_MS")
      ->check(CLI::Range(int64_t{1}, int64_t{3'600'000}))
      ->capture_default_str();

  serve
      ->add_option("--public-url", cfg.public_url,
                   "base URL recipients reach this daemon at, for unsubscribe links (default: http://<addr>)")
      ->envname("OUTFLOW_PUBLIC_URL");

  int pacing_guard_ms = 10;
  serve
      ->add_option("--pacing-guard-ms", pacing_guard_ms,
                   "rate limits count sends in windows of 1 s plus this, to absorb jitter in delivery delay: "
                   "raise it for a provider far away; costs guard/(1000+guard) of the rate")
      ->envname("OUTFLOW_PACING_GUARD_MS")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();

  std::string contact_rules;
  serve
      ->add_option("--contact-rules", contact_rules,
                   "per-contact rules for every account, as JSON: {\"frequency_cap\": {\"per_day\": 3, "
                   "\"per_week\": 10, \"over\": \"defer\"|\"skip\"}, \"quiet_hours\": {\"start\": \"21:00\", "
                   "\"end\": \"08:00\"}} (an account's own contact_rules win, part by part)")
      ->envname("OUTFLOW_CONTACT_RULES");
  serve->add_option("--key-rate", cfg.key_rate, "requests a second per API key (a token bucket as deep); over it, 429")
      ->envname("OUTFLOW_KEY_RATE")
      ->check(CLI::Range(1.0, 1e6))
      ->capture_default_str();
  serve->add_flag("--metrics-public", cfg.metrics_public, "serve /metrics without an API key")
      ->envname("OUTFLOW_METRICS_PUBLIC");
  serve
      ->add_option("--outbound-allow", cfg.outbound_allow,
                   "CIDR block that webhooks, HTTP providers and SMTP may reach although it is loopback, private, "
                   "link-local or metadata (refused by default); repeatable or comma-separated")
      ->envname("OUTFLOW_OUTBOUND_ALLOW")
      ->delimiter(',');
  serve->add_option("--tls-cert", cfg.tls_cert_file, "serve HTTPS with this certificate chain (PEM; with --tls-key)")
      ->envname("OUTFLOW_TLS_CERT");
  serve->add_option("--tls-key", cfg.tls_key_file, "the private key of --tls-cert (PEM)")->envname("OUTFLOW_TLS_KEY");
  serve
      ->add_option("--trusted-proxy", cfg.trusted_proxies,
                   "CIDR block of a reverse proxy whose X-Forwarded-For and X-Forwarded-Proto are believed; "
                   "repeatable or comma-separated")
      ->envname("OUTFLOW_TRUSTED_PROXIES")
      ->delimiter(',');
  std::string session_idle = "30m", session_max = "12h", login_backoff = "1s", login_lock = "15m";
  serve->add_option("--session-idle", session_idle, "a web UI session ends after this long without a request")
      ->envname("OUTFLOW_SESSION_IDLE")
      ->capture_default_str();
  serve->add_option("--session-max", session_max, "a web UI session ends this long after login at the latest")
      ->envname("OUTFLOW_SESSION_MAX")
      ->capture_default_str();
  serve
      ->add_option("--login-backoff", login_backoff,
                   "after 5 failed logins for an email, each attempt waits this long, doubling each time")
      ->envname("OUTFLOW_LOGIN_BACKOFF")
      ->capture_default_str();
  serve->add_option("--login-lock", login_lock, "the 10th failed login locks the email for this long")
      ->envname("OUTFLOW_LOGIN_LOCK")
      ->capture_default_str();

  std::string keygen_dir = "./data";
  std::string keygen_out;
  bool keygen_if_missing = false;
  auto* keygen = app.add_subcommand("keygen", "create the secret key that encrypts account credentials (mode 0600)");
  keygen->add_option("--data-dir", keygen_dir, "data directory: the key goes to <data-dir>/secret.key")
      ->envname("OUTFLOW_DATA_DIR")
      ->capture_default_str();
  keygen->add_option("--out", keygen_out, "write the key to this path instead");
  keygen->add_flag("--if-missing", keygen_if_missing, "succeed without a change when the key file exists");

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

  ContactFlags cf;
  bool contact_json = false;
  std::string contact_server = "http://127.0.0.1:8080";
  auto* contact = app.add_subcommand("contact", "create, read, change, delete and list contacts (through the API)");
  contact->require_subcommand(1);
  contact->add_option("--server", contact_server, "the daemon's URL")->envname("OUTFLOW_SERVER")->capture_default_str();
  contact->add_flag("--json", contact_json, "print the API's JSON");
  auto add_contact_fields = [&](CLI::App* cmd) {
    cmd->add_option("--email", cf.email, "email address");
    cmd->add_option("--phone", cf.phone, "phone number, E.164 (+4915112345678)");
    cmd->add_option("--first-name", cf.first_name, "first name");
    cmd->add_option("--last-name", cf.last_name, "last name");
    cmd->add_option("--time-zone", cf.time_zone, "IANA time zone (Europe/Berlin)");
    cmd->add_option("--locale", cf.locale, "BCP 47 locale (en-US)");
    cmd->add_option("--owner", cf.owner, "owner");
    cmd->add_option("--stage", cf.stage, "pipeline stage");
    cmd->add_option("--tier", cf.tier, "tier");
    cmd->add_option("--external-id", cf.external_id, "your system's id for the contact");
    cmd->add_option("--score", cf.score, "engagement score");
    cmd->add_option("--status", cf.status, "live or staged");
    cmd->add_option("--field", cf.fields, "custom field value name=value (repeatable)");
  };
  auto* c_create = contact->add_subcommand("create", "create a contact");
  add_contact_fields(c_create);
  c_create->add_option("--file", cf.file, "a JSON file with the contact (- for stdin)");
  auto* c_get = contact->add_subcommand("get", "show a contact");
  c_get->add_option("id", cf.id, "contact id")->required();
  auto* c_update = contact->add_subcommand("update", "change the fields given");
  c_update->add_option("id", cf.id, "contact id")->required();
  add_contact_fields(c_update);
  auto* c_delete = contact->add_subcommand("delete", "delete a contact");
  c_delete->add_option("id", cf.id, "contact id")->required();
  auto* c_upsert =
      contact->add_subcommand("upsert", "create, or merge into the contact with the same external id or email");
  add_contact_fields(c_upsert);
  c_upsert->add_option("--on-existing", cf.on_existing, "update, skip or fail")->capture_default_str();
  c_upsert->add_option("--file", cf.file, "a JSON file: one contact or {\"contacts\": [...]} (- for stdin)");
  auto* c_list = contact->add_subcommand("list", "list contacts, oldest first");
  auto* c_count = contact->add_subcommand("count", "count contacts");
  for (auto* cmd : {c_list, c_count}) {
    cmd->add_option("--email", cf.email, "only this email");
    cmd->add_option("--external-id", cf.external_id, "only this external id");
    cmd->add_option("--owner", cf.owner, "only this owner");
    cmd->add_option("--stage", cf.stage, "only this pipeline stage");
    cmd->add_option("--tier", cf.tier, "only this tier");
    cmd->add_option("--status", cf.status, "live or staged");
  }
  c_list->add_option("--limit", cf.limit, "page size")->check(CLI::Range(1, 1000))->capture_default_str();
  c_list->add_option("--after", cf.after, "start after this contact id");
  c_list->add_flag("--all", cf.all, "follow every page");

  auto* field = app.add_subcommand("field", "define and list custom contact fields (through the API)");
  field->require_subcommand(1);
  field->add_option("--server", contact_server, "the daemon's URL")->envname("OUTFLOW_SERVER")->capture_default_str();
  field->add_flag("--json", contact_json, "print the API's JSON");
  auto* f_define = field->add_subcommand("define", "define a custom field");
  f_define->add_option("name", cf.field_name, "field name: a-z, 0-9, _")->required();
  f_define->add_option("--type", cf.field_type, "text, number, boolean, date or datetime")->required();
  f_define->add_option("--label", cf.field_label, "a label for people");
  field->add_subcommand("list", "list the custom fields");

  ImportFlags imf;
  bool imports_json = false;
  std::string import_server = "http://127.0.0.1:8080";
  auto* import_cmd = app.add_subcommand("import", "import contacts from a CSV file, showing progress and a summary");
  import_cmd
      ->add_option("file", imf.file,
                   "the CSV file (UTF-8; comma, semicolon or tab), or 'process' to run "
                   "the queued imports of --data-dir once and exit (for cron)")
      ->required();
  import_cmd->add_option("--data-dir", imf.data_dir, "work on this data directory without a daemon (cron)");
  import_cmd->add_option("--server", import_server, "the daemon's URL")
      ->envname("OUTFLOW_SERVER")
      ->capture_default_str();
  import_cmd->add_option("--name", imf.name, "a name for the import (default: the file name)");
  import_cmd->add_option("--delimiter", imf.delimiter, "comma, semicolon or tab (default: detected)");
  import_cmd->add_option("--on-existing", imf.on_existing,
                         "update, skip or fail a row whose contact exists (default update)");
  import_cmd->add_option("--owner", imf.owner, "owner of the rows that do not name one");
  import_cmd->add_option("--segment", imf.segment,
                         "a static segment every row joins (created if needed); a segment_name column overrides it");
  import_cmd->add_flag("--staging", imf.staging, "put the rows in the staging area, not live");
  import_cmd->add_flag("--create-fields", imf.create_fields, "turn unmapped columns into text custom fields");
  import_cmd->add_option("--map", imf.maps, "Column=field, or Column= to ignore a column (repeatable)");
  import_cmd->add_flag("--no-wait", imf.no_wait, "queue the import and return");
  auto* imports_cmd = app.add_subcommand("imports", "list imports, show one, its error report, or cancel it");
  imports_cmd->require_subcommand(1);
  imports_cmd->add_option("--server", import_server, "the daemon's URL")
      ->envname("OUTFLOW_SERVER")
      ->capture_default_str();
  imports_cmd->add_flag("--json", imports_json, "print the API's JSON");
  imports_cmd->add_subcommand("list", "recent imports");
  for (const char* verb : {"show", "errors", "cancel"}) {
    auto* sub = imports_cmd->add_subcommand(verb, std::string(verb) == "errors" ? "the error report as CSV"
                                                  : std::string(verb) == "show" ? "state and progress"
                                                                                : "cancel an unfinished import");
    sub->add_option("id", imf.id, "import id")->required();
  }

  SegmentFlags sgf;
  bool segment_json = false;
  std::string segment_server = "http://127.0.0.1:8080";
  auto* segment = app.add_subcommand("segment", "create, list and inspect segments (through the API)");
  segment->require_subcommand(1);
  segment->add_option("--server", segment_server, "the daemon's URL")->envname("OUTFLOW_SERVER")->capture_default_str();
  segment->add_flag("--json", segment_json, "print the API's JSON");
  auto* s_create = segment->add_subcommand("create", "create a segment: dynamic with --filter, or --static");
  s_create->add_option("name", sgf.name, "segment name")->required();
  s_create->add_option("--filter", sgf.filter,
                       R"(filter JSON, e.g. {"all":[{"field":"tier","op":"equals","value":"pro"}]})");
  s_create->add_flag("--static", sgf.is_static, "members are added by hand");
  segment->add_subcommand("list", "all segments with their member counts");
  for (const char* verb : {"show", "delete", "members", "add", "remove"}) {
    auto* sub = segment->add_subcommand(verb, std::string("segment ") + verb);
    sub->add_option("id", sgf.id, "segment id")->required();
    if (std::string(verb) == "add" || std::string(verb) == "remove") {
      sub->add_option("contact_ids", sgf.contact_ids, "contact ids")->required();
    }
    if (std::string(verb) == "members") {
      sub->add_option("--limit", sgf.limit, "page size")->check(CLI::Range(1, 1000));
      sub->add_option("--after", sgf.after, "start after this contact id");
    }
  }

  ReleaseFlags rf;
  bool release_json = false;
  std::string release_server = "http://127.0.0.1:8080";
  auto* release =
      app.add_subcommand("release", "paced release of staged contacts into the live base (through the API)");
  release->require_subcommand(1);
  release->add_option("--server", release_server, "the daemon's URL")->envname("OUTFLOW_SERVER")->capture_default_str();
  release->add_flag("--json", release_json, "print the API's JSON");
  auto* r_create = release->add_subcommand("create", "start a release plan: --per N contacts --every S seconds");
  r_create->add_option("name", rf.name, "plan name")->required();
  r_create->add_option("--per", rf.per, "contacts per slot")->required();
  r_create->add_option("--every", rf.every, "seconds between slots")->required();
  r_create->add_option("--time-zone", rf.time_zone, "IANA time zone of the windows")->capture_default_str();
  r_create->add_option("--window", rf.windows, "'mon-fri 09:00-17:00' (repeatable; none: any time)");
  r_create->add_option("--ramp", rf.ramp, "grow the slot size by this percent each day");
  release->add_subcommand("list", "plans and the size of the staging area");
  std::string release_data_dir = "./data";
  release
      ->add_subcommand("run", "perform the releases that are due on --data-dir and exit (for cron, without a daemon)")
      ->add_option("--data-dir", release_data_dir, "data directory")
      ->envname("OUTFLOW_DATA_DIR")
      ->capture_default_str();
  for (const char* verb : {"show", "pause", "resume", "cancel", "log"}) {
    release->add_subcommand(verb, std::string("release plan ") + verb)->add_option("id", rf.id, "plan id")->required();
  }
  auto* r_change = release->add_subcommand("change", "change a plan's pace, windows or time zone");
  r_change->add_option("id", rf.id, "plan id")->required();
  r_change->add_option("--per", rf.per, "contacts per slot");
  r_change->add_option("--every", rf.every, "seconds between slots");
  r_change->add_option("--time-zone", rf.change_zone, "IANA time zone of the windows");
  r_change->add_option("--window", rf.windows, "'mon-fri 09:00-17:00' (repeatable; replaces the windows)");
  r_change->add_option("--ramp", rf.change_ramp, "daily growth in percent");

  cli::CampaignCommands campaign_commands(app);  // account, template, campaign
  cli::KeyCommands key_commands(app);
  cli::AuditCommands audit_commands(app);
  cli::SecretsCommands secrets_commands(app);
  cli::UserCommands user_commands(app);

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
    cfg.job_retention = std::chrono::hours(24) * job_retention_days;
    cfg.audit_retention = std::chrono::hours(24) * audit_retention_days;
    cfg.send_retry_base = std::chrono::milliseconds(send_retry_base_ms);
    cfg.pacing_guard = std::chrono::milliseconds(pacing_guard_ms);
    for (const auto& [flag, cidrs] :
         {std::pair{"--outbound-allow", &cfg.outbound_allow}, std::pair{"--trusted-proxy", &cfg.trusted_proxies}}) {
      if (Result<std::vector<net::Cidr>> parsed = net::ParseCidrs(*cidrs, flag); !parsed.ok()) {
        std::cerr << "outflow: " << parsed.status().message() << "\n";
        return kExitUsage;
      }
    }
    if (cfg.tls_cert_file.empty() != cfg.tls_key_file.empty()) {
      std::cerr << "outflow: --tls-cert and --tls-key go together: give both or neither\n";
      return kExitUsage;
    }
    if (!contact_rules.empty()) {
      boost::system::error_code ec;
      boost::json::value v = boost::json::parse(contact_rules, ec);
      Result<ContactRules> rules = ec ? Result<ContactRules>(Status::InvalidArgument("contact-rules: not JSON"))
                                      : ContactRulesFromJson(v, "contact-rules");
      if (!rules.ok()) {
        std::cerr << "outflow: --" << rules.status().message() << "\n";
        return kExitUsage;
      }
      cfg.contact_rules = *rules;
    }
    if (const char* key = std::getenv("OUTFLOW_SECRET_KEY"); key != nullptr && *key != '\0') cfg.secret_key_value = key;
    const std::tuple<const char*, const std::string*, Duration*> duration_flags[] = {
        {"--session-idle", &session_idle, &cfg.session_idle},
        {"--session-max", &session_max, &cfg.session_max},
        {"--login-backoff", &login_backoff, &cfg.login_backoff},
        {"--login-lock", &login_lock, &cfg.login_lock}};
    for (const auto& [flag, text, out] : duration_flags) {
      Result<Duration> d = ParseDurationFlag(flag, *text);
      if (!d.ok() || *d <= Duration::zero()) {
        std::cerr << "outflow: " << (d.ok() ? std::string(flag) + ": must be more than 0" : d.status().message())
                  << "\n";
        return kExitUsage;
      }
      *out = *d;
    }
    return Serve(cfg);
  }
  if (std::optional<int> rc = key_commands.Run()) return *rc;
  if (std::optional<int> rc = secrets_commands.Run()) return *rc;
  if (std::optional<int> rc = user_commands.Run()) return *rc;
  if (*keygen) return KeyGen(keygen_out.empty() ? DefaultSecretKeyPath(keygen_dir) : keygen_out, keygen_if_missing);
  if (*migrate) return Migrate(migrate_dir, migrate_status);
  if (*release && release->get_subcommands().front()->get_name() == "run") {
    OfflineRun run;
    run.data_dir = release_data_dir;
    run.kinds = {std::string(kReleaseJobKind)};
    Status st = RunOffline(run, std::cout);
    return st.ok() ? kExitOk : Fail(st);
  }
  if (*release) {
    Result<ApiClient> client = connect(release_server);
    if (!client.ok()) return Fail(client.status());
    return ReleaseCommand(*client, release->get_subcommands().front()->get_name(), rf, release_json);
  }
  if (*segment) {
    Result<ApiClient> client = connect(segment_server);
    if (!client.ok()) return Fail(client.status());
    return SegmentCommand(*client, segment->get_subcommands().front()->get_name(), sgf, segment_json);
  }
  if (*import_cmd && (imf.file == "process" || !imf.data_dir.empty()) && !std::filesystem::exists(imf.file + "/.")) {
    const bool process = imf.file == "process" && !std::filesystem::exists(imf.file);
    if (imf.data_dir.empty())
      return Fail(Status::InvalidArgument("import process: give --data-dir (or OUTFLOW_DATA_DIR)"));
    OfflineRun run;
    run.data_dir = imf.data_dir;
    run.kinds = {std::string(kImportJobKind)};
    if (!process) {
      if (!std::filesystem::exists(imf.file))
        return Fail(Status::InvalidArgument("file: " + imf.file + " does not exist"));
      run.import_file = imf.file;
      run.import_name = imf.name.empty() ? std::filesystem::path(imf.file).filename().string() : imf.name;
      Result<ImportOptions> opt = OfflineImportOptions(imf);
      if (!opt.ok()) return Fail(opt.status());
      run.import_options = *opt;
    }
    std::optional<ImportState> state;
    Status st = RunOffline(run, std::cout, &state);
    if (!st.ok()) return Fail(st);
    if (state == ImportState::kFailed) return kExitInvalid;  // as the daemon path: failed 3, cancelled 5
    if (state == ImportState::kCancelled) return kExitConflict;
    return kExitOk;
  }
  if (*import_cmd || *imports_cmd) {
    Result<ApiClient> client = connect(import_server);
    if (!client.ok()) return Fail(client.status());
    if (*import_cmd) return RunImport(*client, imf);
    return ImportsCommand(*client, imports_cmd->get_subcommands().front()->get_name(), imf, imports_json);
  }
  if (*contact || *field) {
    Result<ApiClient> client = connect(contact_server);
    if (!client.ok()) return Fail(client.status());
    CLI::App* cmd = (*contact ? contact : field)->get_subcommands().front();
    if (*contact) return ContactCommand(*client, cmd->get_name(), cf, contact_json);
    return FieldCommand(*client, cmd->get_name(), cf, contact_json);
  }
  if (std::optional<int> rc = audit_commands.Run([&] { return cli::ResolveApiKey(api_key, api_key_file); })) {
    return *rc;
  }
  if (std::optional<int> rc = campaign_commands.Run([&] { return cli::ResolveApiKey(api_key, api_key_file); })) {
    return *rc;
  }
  if (*job) {
    Result<ApiClient> client = connect(jf.server);
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
