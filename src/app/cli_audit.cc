#include "app/cli_audit.h"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include <iomanip>
#include <iostream>

#include "app/cli.h"
#include "app/cli_common.h"

namespace outflow::cli {

namespace json = boost::json;

struct AuditCommands::State {
  CLI::App* audit = nullptr;
  std::string server = "http://127.0.0.1:8080";
  std::string actor, action, object_type, object_id, since, until;
  int limit = 100;
  int64_t before = 0;
  bool all = false;
  bool json_out = false;
};

namespace {

std::string Query(const AuditCommands::State& s, int64_t before) {
  std::string q = "?limit=" + std::to_string(s.limit);
  auto add = [&q](const char* key, const std::string& v) {
    if (!v.empty()) q += std::string("&") + key + "=" + UrlEncode(v);
  };
  add("actor", s.actor);
  add("action", s.action);
  add("object_type", s.object_type);
  add("object_id", s.object_id);
  add("since", s.since);
  add("until", s.until);
  if (before > 0) q += "&before=" + std::to_string(before);
  return q;
}

void PrintEntries(const json::value& v) {
  for (const json::value& e : v.at("entries").as_array()) {
    const json::object& o = e.as_object();
    std::cout << std::left << std::setw(28) << Str(o.at("at")) << std::setw(16) << Str(o.at("actor")) << std::setw(26)
              << Str(o.at("action")) << std::setw(8) << Str(o.at("object_id")) << std::setw(16) << Str(o.at("address"))
              << json::serialize(o.at("summary")) << "\n";
  }
}

}  // namespace

AuditCommands::AuditCommands(CLI::App& app) : s_(std::make_unique<State>()) {
  State& s = *s_;
  s.audit = app.add_subcommand("audit", "the audit log: who changed what, newest first (admin key)");
  s.audit->add_option("--server", s.server, "the daemon's URL")->envname("OUTFLOW_SERVER")->capture_default_str();
  s.audit->add_option("--actor", s.actor, "who: key:<id>, user:<id> or cli:<user>");
  s.audit->add_option("--action", s.action, "e.g. campaign.cancel");
  s.audit->add_option("--object-type", s.object_type, "e.g. campaign");
  s.audit->add_option("--object-id", s.object_id, "the object's id");
  s.audit->add_option("--since", s.since, "from this time (RFC 3339)");
  s.audit->add_option("--until", s.until, "before this time (RFC 3339)");
  s.audit->add_option("--limit", s.limit, "page size")->check(CLI::Range(1, 1000))->capture_default_str();
  s.audit->add_option("--before", s.before, "entries older than this id (the next page)");
  s.audit->add_flag("--all", s.all, "follow every page");
  s.audit->add_flag("--json", s.json_out, "print JSON");
}

AuditCommands::~AuditCommands() = default;

std::optional<int> AuditCommands::Run(const std::function<std::string()>& api_key) {
  State& s = *s_;
  if (!*s.audit) return std::nullopt;
  Result<api::ApiClient> client = api::ApiClient::Create(s.server, api_key());
  if (!client.ok()) return Fail(client.status());
  if (!s.json_out) {
    std::cout << std::left << std::setw(28) << "AT" << std::setw(16) << "ACTOR" << std::setw(26) << "ACTION"
              << std::setw(8) << "OBJECT" << std::setw(16) << "ADDRESS"
              << "SUMMARY\n";
  }
  int64_t before = s.before;
  while (true) {
    Result<api::ApiReply> reply = client->Call("GET", "/v1/audit" + Query(s, before));
    if (!reply.ok()) return Fail(reply.status());
    if (reply->status != 200) return FailReply(*reply);
    boost::system::error_code ec;
    json::value page = json::parse(reply->body, ec);
    if (ec || !page.is_object()) return Fail(Status::Internal("the daemon's reply is not a JSON object"));
    if (s.json_out) {
      std::cout << reply->body << "\n";
    } else {
      PrintEntries(page);
    }
    const json::value* next = page.as_object().if_contains("next_before");
    if (!s.all || next == nullptr || !next->is_int64()) return kExitOk;
    before = next->as_int64();
  }
}

}  // namespace outflow::cli
