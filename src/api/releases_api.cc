#include "api/releases_api.h"

#include <boost/json.hpp>
#include <boost/url/params_view.hpp>

#include "api/http_util.h"
#include "api/job_json.h"
#include "api/window_json.h"

namespace outflow::api {

namespace json = boost::json;

namespace {

json::value PlanToJson(const ReleasePlan& p) {
  return json::object{{"id", p.id.value()},
                      {"name", p.name},
                      {"state", ReleaseStateName(p.state)},
                      {"per_slot", p.per_slot},
                      {"interval_seconds", p.interval_seconds},
                      {"ramp_percent_per_day", JsonNumber(p.ramp_percent)},
                      {"time_zone", p.time_zone},
                      {"windows", WindowsToJson(p.windows)},
                      {"released_total", p.released_total},
                      {"started_at", FormatRfc3339(p.started_at)},
                      {"next_slot_at", FormatRfc3339(p.next_slot_at)},
                      {"created_at", FormatRfc3339(p.created_at)},
                      {"updated_at", FormatRfc3339(p.updated_at)}};
}

Result<int64_t> Integer(const json::value& v, const std::string& field) {
  if (v.is_int64()) return v.as_int64();
  return Status::InvalidArgument(field + ": must be an integer in range");  // also a uint64 over int64's range
}

// Applies the plan fields of `o` to `plan`; `creating` allows the name and
// reports which required fields were present.
Status ApplyPlanJson(const json::object& o, ReleasePlan& plan, bool creating, bool& has_per, bool& has_interval) {
  for (const auto& [k, v] : o) {
    std::string key(k);
    if (key == "name") {
      if (!creating) return Status::InvalidArgument("name: cannot be changed");
      if (!v.is_string()) return (Status::InvalidArgument("name: must be a string"));
      plan.name = std::string(v.as_string());
    } else if (key == "per_slot" || key == "interval_seconds") {
      Result<int64_t> n = Integer(v, key);
      if (!n.ok()) return (n.status());
      (key == "per_slot" ? plan.per_slot : plan.interval_seconds) = *n;
      (key == "per_slot" ? has_per : has_interval) = true;
    } else if (key == "ramp_percent_per_day") {
      if (!v.is_number()) return (Status::InvalidArgument(key + ": must be a number"));
      plan.ramp_percent = v.to_number<double>();
    } else if (key == "time_zone") {
      if (!v.is_string()) return (Status::InvalidArgument("time_zone: must be a string"));
      plan.time_zone = std::string(v.as_string());
    } else if (key == "windows") {
      Result<std::vector<Window>> windows = WindowsFromJson(v);
      if (!windows.ok()) return windows.status();
      plan.windows.insert(plan.windows.end(), windows->begin(), windows->end());
    } else {
      return (Status::InvalidArgument(
          key + ": unknown field (known: name, per_slot, interval_seconds, ramp_percent_per_day, time_zone, windows)"));
    }
  }
  (void)creating;
  return Status::Ok();
}

}  // namespace

std::optional<HttpResponse> ReleasesApi::Route(const HttpRequest& req, std::string_view path, std::string_view query) {
  const bool get = req.method == "GET" || req.method == "HEAD";
  const bool post = req.method == "POST";
  if (path == "/v1/releases") {
    if (post) return Create(req);
    if (!get) return MethodNotAllowed("GET, POST");
    Result<std::vector<ReleasePlan>> all = releases_.List();
    Result<int64_t> staged = releases_.StagedCount();
    if (!all.ok()) return ErrorResponse(all.status());
    if (!staged.ok()) return ErrorResponse(staged.status());
    json::array arr;
    for (const ReleasePlan& p : *all) arr.push_back(PlanToJson(p));
    return JsonResponse(200, json::object{{"releases", std::move(arr)}, {"staged", *staged}});
  }
  constexpr std::string_view kPrefix = "/v1/releases/";
  if (!path.starts_with(kPrefix)) return std::nullopt;
  std::string_view rest = path.substr(kPrefix.size());
  auto slash = rest.find('/');
  Result<int64_t> id = ParsePositiveId(rest.substr(0, slash), "release plan id");
  if (!id.ok()) return ErrorResponse(id.status());
  ReleasePlanId pid(*id);
  std::string_view action = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  if (action.empty()) {
    if (req.method == "PATCH") return Change(pid, req);
    if (!get) return MethodNotAllowed("GET, PATCH");
    Result<ReleasePlan> p = releases_.Get(pid);
    return p.ok() ? JsonResponse(200, PlanToJson(*p)) : ErrorResponse(p.status());
  }
  if (action == "log") {
    if (!get) return MethodNotAllowed("GET");
    int limit = 100;
    for (const boost::urls::param& p : boost::urls::params_view(query)) {
      if (p.key != "limit") return ErrorResponse(Status::InvalidArgument(p.key + ": unknown query parameter (known: limit)"));
      Result<int64_t> n = ParsePositiveId(p.value, "limit");
      if (!n.ok() || *n > 10'000) return ErrorResponse(Status::InvalidArgument("limit: must be between 1 and 10000"));
      limit = static_cast<int>(*n);
    }
    if (Result<ReleasePlan> p = releases_.Get(pid); !p.ok()) return ErrorResponse(p.status());
    Result<std::vector<ReleaseLogEntry>> log = releases_.Log(pid, limit);
    if (!log.ok()) return ErrorResponse(log.status());
    json::array arr;
    for (const ReleaseLogEntry& e : *log) {
      arr.push_back(json::object{{"at", FormatRfc3339(e.at)}, {"released", e.released}});
    }
    return JsonResponse(200, json::object{{"log", std::move(arr)}});
  }
  if (action == "pause" || action == "resume" || action == "cancel") {
    if (!post) return MethodNotAllowed("POST");
    Result<ReleasePlan> p = action == "pause"    ? releases_.Pause(pid)
                            : action == "resume" ? releases_.Resume(pid)
                                                 : releases_.Cancel(pid);
    return p.ok() ? JsonResponse(200, PlanToJson(*p)) : ErrorResponse(p.status());
  }
  return std::nullopt;
}

HttpResponse ReleasesApi::Create(const HttpRequest& req) {
  Result<json::value> body = ParseJsonBody(req.body);
  if (!body.ok()) return ErrorResponse(body.status());
  const json::object* o = body->if_object();
  if (o == nullptr) return ErrorResponse(Status::InvalidArgument("body: must be a JSON object"));
  ReleasePlan plan;
  bool has_per = false, has_interval = false;
  if (Status st = ApplyPlanJson(*o, plan, true, has_per, has_interval); !st.ok()) return ErrorResponse(st);
  if (!has_per) return ErrorResponse(Status::InvalidArgument("per_slot: is required"));
  if (!has_interval) return ErrorResponse(Status::InvalidArgument("interval_seconds: is required"));
  Result<ReleasePlan> created = releases_.Create(std::move(plan));
  return created.ok() ? JsonResponse(201, PlanToJson(*created)) : ErrorResponse(created.status());
}

HttpResponse ReleasesApi::Change(ReleasePlanId id, const HttpRequest& req) {
  Result<json::value> body = ParseJsonBody(req.body);
  if (!body.ok()) return ErrorResponse(body.status());
  const json::object* o = body->if_object();
  if (o == nullptr) return ErrorResponse(Status::InvalidArgument("body: must be a JSON object"));
  Result<ReleasePlan> changed = releases_.Change(id, [&](ReleasePlan& plan) {
    bool has_per = false, has_interval = false;
    if (o->contains("windows")) plan.windows.clear();  // the given windows replace the old ones
    return ApplyPlanJson(*o, plan, false, has_per, has_interval);
  });
  return changed.ok() ? JsonResponse(200, PlanToJson(*changed)) : ErrorResponse(changed.status());
}

}  // namespace outflow::api
