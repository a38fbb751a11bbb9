#include "app/cli_campaigns.h"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/api_client.h"
#include "app/cli.h"
#include "app/cli_common.h"
#include "base/clock.h"

namespace outflow::cli {

namespace json = boost::json;
using api::ApiClient;
using api::ApiReply;

struct CampaignCommands::State {
  // One per command: CLI11 fills an option's environment default for every
  // subcommand, run or not, so a shared variable would let another command's
  // OUTFLOW_SERVER overwrite an explicit --server.
  std::string account_server = "http://127.0.0.1:8080";
  std::string template_server = "http://127.0.0.1:8080";
  std::string campaign_server = "http://127.0.0.1:8080";
  bool json_out = false;
  CLI::App* account = nullptr;
  CLI::App* tmpl = nullptr;
  CLI::App* campaign = nullptr;
  int64_t id = 0;
  // account create | update
  std::string name, channel, provider, settings, credentials_file, time_zone;
  std::optional<int> rate, burst;
  std::optional<int64_t> daily_cap;
  bool no_daily_cap = false;
  bool any_time = false;
  std::vector<std::string> windows;  // "mon-fri 09:00-17:00"
  // template create | update | preview
  std::optional<std::string> subject, text, text_file, html, html_file;
  int64_t contact = 0;
  // campaign create
  int64_t account_id = 0, template_id = 0;
  std::vector<int64_t> segments;
  std::string csv;  // an audience file: imported into its own static segment first
  int csv_timeout_seconds = 600;
  std::optional<int64_t> exclude, missed_after;
  std::optional<int> max_attempts;
  std::string at, cap_policy;
  bool draft = false;
  bool contact_time_zone = false;
  // campaign list | recipients
  std::string state;
  int limit = 100;
  int64_t before = 0, after = 0;
  bool all = false;
};

namespace {

using State = CampaignCommands::State;

// ---- request bodies from flags ----

Result<json::value> JsonFlag(const std::string& text, const std::string& flag) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return Status::InvalidArgument(flag + ": not valid JSON: " + ec.message());
  return v;
}

// "mon-fri 09:00-17:00": split at the first space and the last '-', as `release create --window`.
Result<json::array> WindowsFromFlags(const std::vector<std::string>& flags) {
  json::array windows;
  for (const std::string& w : flags) {
    auto space = w.find(' ');
    auto dash = w.rfind('-');
    if (space == std::string::npos || dash == std::string::npos || dash < space) {
      return Status::InvalidArgument("--window: '" + w + "' must be like 'mon-fri 09:00-17:00'");
    }
    windows.push_back(json::object{
        {"days", w.substr(0, space)}, {"start", w.substr(space + 1, dash - space - 1)}, {"end", w.substr(dash + 1)}});
  }
  return windows;
}

// The account members the flags give; flags not given are left out.
Result<json::object> AccountBody(const State& s) {
  json::object o;
  if (!s.name.empty()) o["name"] = s.name;
  if (!s.channel.empty()) o["channel"] = s.channel;
  if (!s.provider.empty()) o["provider"] = s.provider;
  if (!s.settings.empty()) {
    OUTFLOW_ASSIGN_OR_RETURN(o["settings"], JsonFlag(s.settings, "--settings"));
  }
  if (!s.credentials_file.empty()) {  // never a flag value: it would show in ps and the shell history
    bool ok = false;
    std::string text = ReadAll(s.credentials_file, ok);
    if (!ok) return Status::InvalidArgument("--credentials-file: cannot read " + s.credentials_file);
    OUTFLOW_ASSIGN_OR_RETURN(o["credentials"], JsonFlag(text, "--credentials-file"));
  }
  if (s.rate) o["rate_per_second"] = *s.rate;
  if (s.burst) o["burst"] = *s.burst;
  if (s.no_daily_cap) {
    o["daily_cap"] = nullptr;
  } else if (s.daily_cap) {
    o["daily_cap"] = *s.daily_cap;
  }
  if (!s.time_zone.empty()) o["time_zone"] = s.time_zone;
  if (s.any_time) {
    o["windows"] = json::array();
  } else if (!s.windows.empty()) {
    OUTFLOW_ASSIGN_OR_RETURN(o["windows"], WindowsFromFlags(s.windows));
  }
  return o;
}

// A template part from --PART or --PART-file.
Status TemplatePart(json::object& o, const char* part, const std::optional<std::string>& inline_text,
                    const std::optional<std::string>& file) {
  const std::string flag = std::string("--") + part;
  if (inline_text && file) return Status::InvalidArgument(flag + ": give " + flag + " or " + flag + "-file, not both");
  if (inline_text) o[part] = *inline_text;
  if (file) {
    bool ok = false;
    std::string text = ReadAll(*file, ok);
    if (!ok) return Status::InvalidArgument(flag + "-file: cannot read " + *file);
    o[part] = text;
  }
  return Status::Ok();
}

Result<json::object> TemplateBody(const State& s) {
  json::object o;
  if (!s.name.empty()) o["name"] = s.name;
  if (s.subject) o["subject"] = *s.subject;
  OUTFLOW_RETURN_IF_ERROR(TemplatePart(o, "text", s.text, s.text_file));
  OUTFLOW_RETURN_IF_ERROR(TemplatePart(o, "html", s.html, s.html_file));
  return o;
}

json::object CampaignBody(const State& s) {
  json::array segments;
  for (int64_t id : s.segments) segments.push_back(id);
  json::object audience{{"segments", std::move(segments)}};
  if (s.exclude) audience["exclude_segment"] = *s.exclude;
  json::object o{{"name", s.name},
                 {"account_id", s.account_id},
                 {"template_id", s.template_id},
                 {"audience", std::move(audience)}};
  if (!s.at.empty()) o["send_at"] = s.at;
  if (s.contact_time_zone) o["contact_time_zone"] = true;
  if (!s.time_zone.empty()) o["time_zone"] = s.time_zone;
  if (!s.cap_policy.empty()) o["cap_policy"] = s.cap_policy;
  if (s.missed_after) o["missed_after_seconds"] = *s.missed_after;
  if (s.max_attempts) o["max_attempts"] = *s.max_attempts;
  if (s.draft) o["draft"] = true;
  return o;
}

// ---- printing ----

std::string WindowsText(const json::value& windows) {
  std::string out;
  for (const auto& w : windows.as_array()) {
    out += (out.empty() ? "" : ", ") + Str(w.at("days")) + " " + Str(w.at("start")) + "-" + Str(w.at("end"));
  }
  return out.empty() ? "any time" : out;
}

void Line(const char* label, const std::string& value) {
  std::printf("%-15s %s\n", label, value.c_str());
}

void PrintAccount(const json::value& a) {
  Line("id", Str(a.at("id")));
  Line("name", Str(a.at("name")));
  Line("channel", Str(a.at("channel")));
  Line("provider", Str(a.at("provider")));
  Line("settings", json::serialize(a.at("settings")));
  Line("credentials", a.at("has_credentials").as_bool() ? "stored (encrypted)" : "none");
  Line("rate", Str(a.at("rate_per_second")) + "/s, burst " + Str(a.at("burst")));
  Line("daily cap", a.at("daily_cap").is_null() ? "none" : Str(a.at("daily_cap")) + " per local day");
  Line("time zone", Str(a.at("time_zone")));
  Line("windows", WindowsText(a.at("windows")));
  Line("created", Str(a.at("created_at")));
  Line("updated", Str(a.at("updated_at")));
}

void PrintAccountRow(const json::value& a) {
  std::printf("%-5lld %-20s %-9s %-15s %8s %6s %10s %-6s %s %s\n", static_cast<long long>(a.at("id").as_int64()),
              Str(a.at("name")).c_str(), Str(a.at("channel")).c_str(), Str(a.at("provider")).c_str(),
              Str(a.at("rate_per_second")).c_str(), Str(a.at("burst")).c_str(), Str(a.at("daily_cap")).c_str(),
              a.at("has_credentials").as_bool() ? "yes" : "no", Str(a.at("time_zone")).c_str(),
              WindowsText(a.at("windows")).c_str());
}

void PrintTemplate(const json::value& t) {
  Line("id", Str(t.at("id")));
  Line("name", Str(t.at("name")));
  Line("subject", Str(t.at("subject")));
  Line("created", Str(t.at("created_at")));
  Line("updated", Str(t.at("updated_at")));
  for (const char* part : {"text", "html"}) {
    std::string body = Str(t.at(part));
    if (body.empty()) continue;
    std::cout << "--- " << part << "\n" << body << (body.back() == '\n' ? "" : "\n");
  }
}

void PrintPreview(const json::value& m) {
  std::cout << "Subject: " << Str(m.at("subject")) << "\n\n" << Str(m.at("text"));
  std::string text = Str(m.at("text"));
  if (!text.empty() && text.back() != '\n') std::cout << "\n";
  std::string html = Str(m.at("html"));
  if (!html.empty()) std::cout << "--- html\n" << html << (html.back() == '\n' ? "" : "\n");
}

std::string CountsText(const json::value& c) {
  const json::value& n = c.at("counts");
  return Str(n.at("total")) + " recipients: " + Str(n.at("sent")) + " sent, " + Str(n.at("failed")) + " failed, " +
         Str(n.at("pending")) + " pending, " + Str(n.at("skipped")) + " skipped";
}

// "campaign 12 paused: 5 recipients: 2 sent, 0 failed, 3 pending, 0 skipped"
void PrintCampaignLine(const json::value& c) {
  std::cout << "campaign " << c.at("id").as_int64() << " " << Str(c.at("state")) << ": " << CountsText(c) << "\n";
  if (!c.at("error").is_null()) std::cout << "error: " << Str(c.at("error")) << "\n";
}

void PrintCampaign(const json::value& c) {
  Line("id", Str(c.at("id")));
  Line("name", Str(c.at("name")));
  Line("state", Str(c.at("state")));
  Line("account", Str(c.at("account_id")));
  Line("template", Str(c.at("template_id")));
  const json::value& audience = c.at("audience");
  std::string segments;
  for (const auto& s : audience.at("segments").as_array()) segments += (segments.empty() ? "" : ", ") + Str(s);
  if (!audience.at("exclude_segment").is_null()) segments += "; excluding " + Str(audience.at("exclude_segment"));
  Line("segments", segments);
  Line("send at",
       c.at("send_at").is_null() ? "now" : Str(c.at("send_at")) + " (given in " + Str(c.at("time_zone")) + ")");
  Line("cap policy", Str(c.at("cap_policy")));
  Line("max attempts", Str(c.at("max_attempts")));
  if (!c.at("missed_after_seconds").is_null()) Line("missed after", Str(c.at("missed_after_seconds")) + " s");
  if (!c.at("error").is_null()) Line("error", Str(c.at("error")));
  const json::value& n = c.at("counts");
  std::printf("\n%8s %8s %8s %8s %8s\n", "TOTAL", "PENDING", "SENT", "FAILED", "SKIPPED");
  std::printf("%8s %8s %8s %8s %8s\n\n", Str(n.at("total")).c_str(), Str(n.at("pending")).c_str(),
              Str(n.at("sent")).c_str(), Str(n.at("failed")).c_str(), Str(n.at("skipped")).c_str());
  std::printf("%9s %8s %8s %8s %12s\n", "DELIVERED", "OPENED", "CLICKED", "BOUNCED", "UNSUBSCRIBED");
  std::printf("%9s %8s %8s %8s %12s\n\n", Str(n.at("delivered")).c_str(), Str(n.at("opened")).c_str(),
              Str(n.at("clicked")).c_str(), Str(n.at("bounced")).c_str(), Str(n.at("unsubscribed")).c_str());
  for (const char* stamp : {"created", "scheduled", "started", "paused", "completed", "failed", "cancelled"}) {
    const json::value& t = c.at(std::string(stamp) + "_at");
    if (!t.is_null()) Line(stamp, Str(t));
  }
}

void PrintCampaignRow(const json::value& c) {
  const json::value& n = c.at("counts");
  std::printf("%-6lld %-24s %-10s %8s %8s %8s %8s %8s  %s\n", static_cast<long long>(c.at("id").as_int64()),
              Str(c.at("name")).substr(0, 24).c_str(), Str(c.at("state")).c_str(), Str(n.at("total")).c_str(),
              Str(n.at("pending")).c_str(), Str(n.at("sent")).c_str(), Str(n.at("failed")).c_str(),
              Str(n.at("skipped")).c_str(), c.at("send_at").is_null() ? "now" : Str(c.at("send_at")).c_str());
}

void PrintRecipientRow(const json::value& r) {
  std::string detail = !r.at("error").is_null()             ? Str(r.at("error"))
                       : !r.at("provider_id").is_null()     ? Str(r.at("provider_id"))
                       : !r.at("next_attempt_at").is_null() ? "next attempt " + Str(r.at("next_attempt_at"))
                                                            : "";
  std::printf("%-10lld %-8s %8s  %-32s %s\n", static_cast<long long>(r.at("contact_id").as_int64()),
              Str(r.at("state")).c_str(), Str(r.at("attempts")).c_str(), Str(r.at("address")).c_str(), detail.c_str());
}

// ---- verbs ----

// POST .../verify queues an account.verify job (the daemon calls the provider off
// its API threads); this waits for the job, at most a minute, and prints its answer.
int VerifyAccount(ApiClient& c, const std::string& target, const CampaignCommands::State& s) {
  Result<api::ApiReply> queued = c.Call("POST", target + "/verify");
  if (!queued.ok()) return Fail(queued.status());
  if (queued->status >= 300) return FailReply(*queued);
  const std::string job = "/v1/jobs/" + std::to_string(json::parse(queued->body).at("job_id").as_int64());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (true) {
    Result<api::ApiReply> r = c.Call("GET", job);
    if (!r.ok()) return Fail(r.status());
    if (r->status >= 300) return FailReply(*r);
    json::value v = json::parse(r->body);
    const std::string state = Str(v.at("state"));
    if (state == "done" || state == "dead" || state == "cancelled") {
      if (s.json_out) std::cout << r->body << "\n";
      if (state == "done") {
        if (!s.json_out) std::cout << "account " << s.id << ": the provider accepted the settings and credentials\n";
        return kExitOk;
      }
      return Fail(Status::InvalidArgument("account " + std::to_string(s.id) + ": " + Str(v.at("last_error"))));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Fail(Status::Unavailable("the verification (" + job + ") is still " + state + " after a minute"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polling the daemon's job
  }
}

int AccountVerb(ApiClient& c, const std::string& verb, const State& s) {
  const std::string target = "/v1/accounts/" + std::to_string(s.id);
  if (verb == "list") {
    return CallAndPrint(c, "GET", "/v1/accounts", "", s.json_out, [](const json::value& v) {
      std::printf("%-5s %-20s %-9s %-15s %8s %6s %10s %-6s %s\n", "ID", "NAME", "CHANNEL", "PROVIDER", "RATE/S",
                  "BURST", "DAILY CAP", "CREDS", "TIME ZONE AND WINDOWS");
      for (const auto& a : v.at("accounts").as_array()) PrintAccountRow(a);
    });
  }
  if (verb == "get") return CallAndPrint(c, "GET", target, "", s.json_out, PrintAccount);
  if (verb == "verify") return VerifyAccount(c, target, s);
  Result<json::object> body = AccountBody(s);
  if (!body.ok()) return Fail(body.status());
  if (verb == "create")
    return CallAndPrint(c, "POST", "/v1/accounts", json::serialize(*body), s.json_out, PrintAccount);
  return CallAndPrint(c, "PATCH", target, json::serialize(*body), s.json_out, PrintAccount);  // update
}

int TemplateVerb(ApiClient& c, const std::string& verb, const State& s) {
  const std::string target = "/v1/templates/" + std::to_string(s.id);
  if (verb == "list") {
    return CallAndPrint(c, "GET", "/v1/templates", "", s.json_out, [](const json::value& v) {
      std::printf("%-5s %-24s %s\n", "ID", "NAME", "SUBJECT");
      for (const auto& t : v.at("templates").as_array()) {
        std::printf("%-5lld %-24s %s\n", static_cast<long long>(t.at("id").as_int64()), Str(t.at("name")).c_str(),
                    Str(t.at("subject")).c_str());
      }
    });
  }
  if (verb == "get") return CallAndPrint(c, "GET", target, "", s.json_out, PrintTemplate);
  if (verb == "preview") {
    const std::string body = json::serialize(json::object{{"contact_id", s.contact}});
    return CallAndPrint(c, "POST", target + "/preview", body, s.json_out, PrintPreview);
  }
  Result<json::object> body = TemplateBody(s);
  if (!body.ok()) return Fail(body.status());
  if (verb == "create")
    return CallAndPrint(c, "POST", "/v1/templates", json::serialize(*body), s.json_out, PrintTemplate);
  return CallAndPrint(c, "PATCH", target, json::serialize(*body), s.json_out, PrintTemplate);  // update
}

// GETs `target` and prints it (JSON or `human`); `next` gets the page's cursor member, 0 when none.
int Page(ApiClient& c, const std::string& target, bool json_out, const char* cursor, int64_t& next,
         const std::function<void(const json::value&)>& human) {
  Result<ApiReply> r = c.Call("GET", target);
  if (!r.ok()) return Fail(r.status());
  if (r->status >= 300) return FailReply(*r);
  json::value v = json::parse(r->body);
  if (json_out) {
    std::cout << r->body << "\n";
  } else {
    human(v);
  }
  next = v.at(cursor).is_null() ? 0 : v.at(cursor).as_int64();
  return kExitOk;
}

// Uploads --csv as an import into a new static segment named after the campaign,
// waits for it (at most --csv-timeout), and sets `segment` to the segment's id.
// The account and template are checked first, so a typo changes no contact. Rows
// the import rejects are reported (`outflow imports errors ID`); an audience with
// no member is an error. Returns an exit code (kExitOk on success).
int ImportAudience(ApiClient& c, const State& s, int64_t& segment) {
  for (const std::string& target :
       {"/v1/accounts/" + std::to_string(s.account_id), "/v1/templates/" + std::to_string(s.template_id)}) {
    Result<ApiReply> r = c.Call("GET", target);
    if (!r.ok()) return Fail(r.status());
    if (r->status >= 300) return FailReply(*r);
  }
  const std::string name =
      "campaign " + s.name + " audience " + FormatRfc3339(SystemClock::Instance().Now()).substr(0, 19);
  Result<ApiReply> up =
      c.Upload("/v1/imports?name=" + UrlEncode("audience of " + s.name) + "&segment=" + UrlEncode(name), s.csv);
  if (!up.ok()) return Fail(up.status());
  if (up->status >= 300) return FailReply(*up);
  json::value im = json::parse(up->body);
  const std::string id = std::to_string(im.at("id").as_int64());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(s.csv_timeout_seconds);
  if (int rc = AwaitImport(
          c, im, [](const json::value&) {}, deadline);
      rc != kExitOk) {
    std::cerr << "outflow: --csv: the campaign was not created (outflow imports show " << id << ")\n";
    return rc;
  }
  if (const std::string state = Str(im.at("state")); state != "completed") {
    return Fail(Status::InvalidArgument("--csv: import " + id + " " + state +
                                        (im.at("error").is_string() ? ": " + Str(im.at("error")) : std::string())));
  }
  std::cerr << "audience: " << im.at("rows_read").as_int64() << " rows read, " << im.at("failed").as_int64()
            << " failed (outflow imports errors " << id << ")\n";
  Result<ApiReply> list = c.Call("GET", "/v1/segments");
  if (!list.ok()) return Fail(list.status());
  if (list->status >= 300) return FailReply(*list);
  const json::value segments = json::parse(list->body);
  for (const json::value& seg : segments.at("segments").as_array()) {
    if (Str(seg.at("name")) != name) continue;
    if (seg.at("member_count").to_number<int64_t>() == 0) break;
    segment = seg.at("id").as_int64();
    return kExitOk;
  }
  return Fail(Status::InvalidArgument("--csv: no row of " + s.csv +
                                      " became a live member of the audience (rejected, staged, or in a "
                                      "segment_name column), so the campaign was not created"));
}

int CampaignVerb(ApiClient& c, const std::string& verb, const State& s) {
  const std::string target = "/v1/campaigns/" + std::to_string(s.id);
  if (verb == "create") {
    if (!s.csv.empty()) {
      State with_csv = s;
      int64_t segment = 0;
      if (int rc = ImportAudience(c, s, segment); rc != kExitOk) return rc;
      with_csv.segments.push_back(segment);
      return CallAndPrint(c, "POST", "/v1/campaigns", json::serialize(CampaignBody(with_csv)), s.json_out,
                          PrintCampaign);
    }
    return CallAndPrint(c, "POST", "/v1/campaigns", json::serialize(CampaignBody(s)), s.json_out, PrintCampaign);
  }
  if (verb == "get") return CallAndPrint(c, "GET", target, "", s.json_out, PrintCampaign);
  if (verb == "schedule" || verb == "pause" || verb == "resume" || verb == "cancel") {
    return CallAndPrint(c, "POST", target + "/" + verb, "", s.json_out, PrintCampaignLine);
  }
  if (verb == "retry-failed") {
    return CallAndPrint(c, "POST", target + "/retry-failed", "", s.json_out, [](const json::value& v) {
      std::cout << "retried " << v.at("retried").as_int64() << " failed recipients\n";
      PrintCampaignLine(v.at("campaign"));
    });
  }
  bool header = false;
  int64_t next = verb == "list" ? s.before : s.after;
  do {
    std::string q;
    std::function<void(const json::value&)> human;
    if (verb == "list") {
      q = "/v1/campaigns?limit=" + std::to_string(s.limit) + (next > 0 ? "&before=" + std::to_string(next) : "");
      human = [&](const json::value& v) {
        if (!header) {
          std::printf("%-6s %-24s %-10s %8s %8s %8s %8s %8s  %s\n", "ID", "NAME", "STATE", "TOTAL", "PENDING", "SENT",
                      "FAILED", "SKIPPED", "SEND AT");
        }
        for (const auto& cp : v.at("campaigns").as_array()) PrintCampaignRow(cp);
      };
    } else {  // recipients
      q = target + "/recipients?limit=" + std::to_string(s.limit) + (next > 0 ? "&after=" + std::to_string(next) : "");
      if (!s.state.empty()) q += "&state=" + UrlEncode(s.state);
      human = [&](const json::value& v) {
        if (!header) std::printf("%-10s %-8s %8s  %-32s %s\n", "CONTACT", "STATE", "ATTEMPTS", "ADDRESS", "DETAIL");
        for (const auto& r : v.at("recipients").as_array()) PrintRecipientRow(r);
      };
    }
    int rc = Page(c, q, s.json_out, verb == "list" ? "next_before" : "next_after", next, human);
    if (rc != kExitOk) return rc;
    header = true;
    if (next > 0 && !s.all && !s.json_out) {
      std::cout << "(more: " << (verb == "list" ? "--before " : "--after ") << next << ", or --all)\n";
    }
  } while (s.all && next > 0);
  return kExitOk;
}

}  // namespace

CampaignCommands::CampaignCommands(CLI::App& app) : s_(std::make_unique<State>()) {
  State& s = *s_;
  auto common = [&](CLI::App* cmd, std::string& server) {
    cmd->require_subcommand(1);
    cmd->add_option("--server", server, "the daemon's URL")->envname("OUTFLOW_SERVER")->capture_default_str();
    cmd->add_flag("--json", s.json_out, "print the API's JSON");
  };
  auto id_arg = [&](CLI::App* cmd, const char* what) { cmd->add_option("id", s.id, what)->required(); };

  s.account =
      app.add_subcommand("account", "sending accounts: a channel's provider, credentials and limits (through the API)");
  common(s.account, s.account_server);
  auto account_flags = [&](CLI::App* cmd, bool creating) {
    auto* name = cmd->add_option("--name", s.name, "account name (unique)");
    auto* channel =
        cmd->add_option("--channel", s.channel, "email, sms, whatsapp, webhook or log (fixed once created)");
    auto* provider =
        cmd->add_option("--provider", s.provider, "smtp, whatsapp_cloud, twilio_sms, http, webhook or log");
    if (creating) {
      name->required();
      channel->required();
      provider->required();
    }
    cmd->add_option("--settings", s.settings,
                    R"(provider settings JSON, e.g. {"host":"smtp.example.com","from_address":"news@example.com"})");
    cmd->add_option("--credentials-file", s.credentials_file,
                    "a JSON file with the credentials (- for stdin); stored encrypted, never shown" +
                        std::string(creating ? "" : "; replaces the stored ones"));
    cmd->add_option("--rate", s.rate, "sends per second at most (default 10)")->check(CLI::Range(1, 100000));
    cmd->add_option("--burst", s.burst, "sends at once at most, 1..rate (default: the rate)")
        ->check(CLI::Range(1, 100000));
    auto* cap = cmd->add_option("--daily-cap", s.daily_cap, "sends per local day of --tz at most (default none)");
    cmd->add_option("--tz,--time-zone", s.time_zone, "IANA time zone of the daily cap and the windows (default UTC)");
    cmd->add_option("--window", s.windows, "'mon-fri 09:00-17:00' (repeatable; none: any time)");
    if (!creating) {
      cmd->add_flag("--no-daily-cap", s.no_daily_cap, "remove the daily cap")->excludes(cap);
      cmd->add_flag("--any-time", s.any_time, "remove the windows");
    }
  };
  account_flags(s.account->add_subcommand("create", "create a sending account"), true);
  s.account->add_subcommand("list", "every account, without credentials");
  id_arg(s.account->add_subcommand("get", "show one account"), "account id");
  auto* a_update = s.account->add_subcommand("update", "change the flags given (the channel cannot change)");
  id_arg(a_update, "account id");
  account_flags(a_update, false);
  id_arg(s.account->add_subcommand("verify", "connect to the provider and check the settings and credentials"),
         "account id");

  s.tmpl =
      app.add_subcommand("template", "message templates: subject, text and html with {{fields}} (through the API)");
  common(s.tmpl, s.template_server);
  auto template_flags = [&](CLI::App* cmd, bool creating) {
    auto* name = cmd->add_option("--name", s.name, "template name (unique)");
    if (creating) name->required();
    cmd->add_option("--subject", s.subject, "subject line (email)");
    cmd->add_option("--text", s.text, "the text part");
    cmd->add_option("--text-file", s.text_file, "read the text part from a file (- for stdin)");
    cmd->add_option("--html", s.html, "the html part");
    cmd->add_option("--html-file", s.html_file, "read the html part from a file (- for stdin)");
  };
  template_flags(s.tmpl->add_subcommand("create", "create a template; unknown fields and syntax errors are refused"),
                 true);
  s.tmpl->add_subcommand("list", "every template");
  id_arg(s.tmpl->add_subcommand("get", "show one template"), "template id");
  auto* t_update = s.tmpl->add_subcommand("update", "change the parts given");
  id_arg(t_update, "template id");
  template_flags(t_update, false);
  auto* t_preview = s.tmpl->add_subcommand("preview", "render a template for one contact");
  id_arg(t_preview, "template id");
  t_preview->add_option("--contact", s.contact, "contact id")->required();

  s.campaign =
      app.add_subcommand("campaign", "campaigns: one template to segments through one account (through the API)");
  common(s.campaign, s.campaign_server);
  auto* c_create = s.campaign->add_subcommand("create", "create a campaign: scheduled (now or --at), or --draft");
  c_create->add_option("--name", s.name, "campaign name")->required();
  c_create->add_option("--account", s.account_id, "sending account id")->required();
  c_create->add_option("--template", s.template_id, "template id")->required();
  auto* seg_opt = c_create->add_option("--segment", s.segments, "audience segment id (repeatable)");
  auto* csv_opt = c_create->add_option(
      "--csv", s.csv,
      "audience CSV for this campaign: imported (as `outflow import` does) into a new static segment, then used");
  c_create->add_option("--csv-timeout", s.csv_timeout_seconds, "how long to wait for the --csv import, in seconds")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  c_create->callback([seg_opt, csv_opt] {
    if (seg_opt->count() == 0 && csv_opt->count() == 0) throw CLI::RequiredError("--segment or --csv");
  });
  c_create->add_option("--exclude", s.exclude, "leave out the members of this segment");
  c_create->add_option("--at", s.at, "when: now (default), 2026-11-25T09:00 (local time in --tz) or RFC 3339");
  c_create->add_option("--tz,--time-zone", s.time_zone, "IANA time zone of --at (default UTC)");
  c_create->add_flag("--contact-time-zone", s.contact_time_zone,
                     "--at is a local time in each contact's own zone (--tz for contacts without one)");
  c_create->add_option("--cap-policy", s.cap_policy, "wait (default) or fail when the daily cap runs out");
  c_create->add_option("--missed-after", s.missed_after,
                       "fail the campaign if it would start more than this many seconds late");
  c_create->add_option("--max-attempts", s.max_attempts, "attempts per recipient, 1..100 (default 5)")
      ->check(CLI::Range(1, 100));
  c_create->add_flag("--draft", s.draft, "keep it a draft: nothing is sent until 'campaign schedule'");
  auto* c_list = s.campaign->add_subcommand("list", "campaigns, newest first, with their counts");
  c_list->add_option("--limit", s.limit, "page size")->check(CLI::Range(1, 1000))->capture_default_str();
  c_list->add_option("--before", s.before, "start before this campaign id");
  c_list->add_flag("--all", s.all, "follow every page");
  id_arg(s.campaign->add_subcommand("get", "state, counts and times of one campaign"), "campaign id");
  id_arg(s.campaign->add_subcommand("schedule", "schedule a draft"), "campaign id");
  id_arg(s.campaign->add_subcommand("pause", "pause a scheduled or sending campaign"), "campaign id");
  id_arg(s.campaign->add_subcommand("resume", "resume a paused campaign"), "campaign id");
  id_arg(s.campaign->add_subcommand("cancel", "cancel a campaign that has not finished"), "campaign id");
  id_arg(s.campaign->add_subcommand("retry-failed", "send again to the recipients that failed"), "campaign id");
  auto* c_recipients = s.campaign->add_subcommand("recipients", "the campaign's recipients, by contact id");
  id_arg(c_recipients, "campaign id");
  c_recipients->add_option("--state", s.state, "pending, sending, sent, failed or skipped");
  c_recipients->add_option("--limit", s.limit, "page size")->check(CLI::Range(1, 1000))->capture_default_str();
  c_recipients->add_option("--after", s.after, "start after this contact id");
  c_recipients->add_flag("--all", s.all, "follow every page");
}

CampaignCommands::~CampaignCommands() = default;

std::optional<int> CampaignCommands::Run(const std::function<std::string()>& api_key) {
  State& s = *s_;
  CLI::App* cmd = *s.account ? s.account : *s.tmpl ? s.tmpl : *s.campaign ? s.campaign : nullptr;
  if (cmd == nullptr) return std::nullopt;
  Result<ApiClient> client = ApiClient::Create(cmd == s.account ? s.account_server
                                               : cmd == s.tmpl  ? s.template_server
                                                                : s.campaign_server,
                                               api_key());
  if (!client.ok()) return Fail(client.status());
  const std::string verb = cmd->get_subcommands().front()->get_name();
  if (cmd == s.account) return AccountVerb(*client, verb, s);
  if (cmd == s.tmpl) return TemplateVerb(*client, verb, s);
  return CampaignVerb(*client, verb, s);
}

}  // namespace outflow::cli
