#include "app/cli_common.h"

#include <cctype>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "app/cli.h"
#include "auth/cli_key_file.h"
#include "store/sqlite/sqlite_audit_store.h"

namespace outflow::cli {

std::string TimeOrDash(const std::optional<Timestamp>& t) {
  return t ? FormatRfc3339(*t) : "-";
}

void RecordCliChange(const std::string& db_path, const AuditEntry& entry) {
  Result<std::unique_ptr<SqliteAuditStore>> audit = SqliteAuditStore::Open(db_path, entry.at);
  Status st = audit.ok() ? (*audit)->Append(std::span(&entry, 1)) : audit.status();
  if (!st.ok()) std::cerr << "outflow: warning: the audit entry was not written: " << st.ToString() << "\n";
}

namespace json = boost::json;

namespace {

int ExitFor(Code c) {
  switch (c) {
    case Code::kOk: return kExitOk;
    case Code::kInvalidArgument:
    case Code::kUnauthenticated: return kExitInvalid;
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
  if (status == 401 || status == 403) return kExitDenied;
  if (status == 503 || status == 429) return kExitUnavailable;
  if (status >= 400 && status < 500) return kExitInvalid;
  return kExitInternal;
}

}  // namespace

std::string ResolveApiKey(const std::string& given, const std::string& key_file) {
  if (!given.empty()) return given;
  Result<std::string> key = auth::ReadKeyFile(key_file);
  if (key.ok()) return *key;
  if (key.status().code() != Code::kNotFound) {
    std::cerr << "outflow: " << key.status().message() << "; give --api-key or set OUTFLOW_API_KEY\n";
  }
  return "";
}

int Fail(const Status& st) {
  std::cerr << "outflow: " << st.message() << "\n";
  return ExitFor(st.code());
}

int FailReply(const api::ApiReply& r) {
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

int CallAndPrint(api::ApiClient& c, const std::string& method, const std::string& target, const std::string& body,
                 bool json_out, const std::function<void(const json::value&)>& human) {
  Result<api::ApiReply> r = c.Call(method, target, body);
  if (!r.ok()) return Fail(r.status());
  if (r->status >= 300) return FailReply(*r);
  if (json_out) {
    std::cout << r->body << "\n";
  } else if (human) {
    human(r->body.empty() ? json::value() : json::parse(r->body));
  }
  return kExitOk;
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

int AwaitImport(api::ApiClient& c, json::value& im, const std::function<void(const json::value&)>& on_progress,
                std::optional<std::chrono::steady_clock::time_point> deadline) {
  const std::string target = "/v1/imports/" + std::to_string(im.at("id").as_int64());
  while (true) {
    const std::string state = Str(im.at("state"));
    if (state == "completed" || state == "failed" || state == "cancelled") return kExitOk;
    if (deadline && std::chrono::steady_clock::now() > *deadline) {
      return Fail(Status::Unavailable("import " + target.substr(12) + " is still " + state));
    }
    on_progress(im);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // polling a remote import's progress
    Result<api::ApiReply> p = c.Call("GET", target);
    if (!p.ok()) return Fail(p.status());
    if (p->status >= 300) return FailReply(*p);
    im = json::parse(p->body);
  }
}

}  // namespace outflow::cli
