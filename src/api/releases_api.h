// The paced release routes of the REST API (docs/api.md):
//
//   POST  /v1/releases                {"name", "per_slot", "interval_seconds", "time_zone"?,
//                                      "windows"?: [{"days": "mon-fri", "start": "09:00", "end": "17:00"}],
//                                      "ramp_percent_per_day"?}                               201
//   GET   /v1/releases                every plan, with the staging area's size
//   GET   /v1/releases/{id}
//   PATCH /v1/releases/{id}           per_slot, interval_seconds, ramp_percent_per_day, time_zone, windows
//   POST  /v1/releases/{id}/pause | resume | cancel
//   GET   /v1/releases/{id}/log       newest first (limit)
// Thread-safe.
#pragma once

#include <optional>
#include <string_view>

#include "api/http_server.h"
#include "ingest/release_service.h"

namespace outflow::api {

class ReleasesApi {
 public:
  explicit ReleasesApi(ReleaseService& releases) : releases_(releases) {}
  std::optional<HttpResponse> Route(const HttpRequest& req, std::string_view path, std::string_view query);

 private:
  HttpResponse Create(const HttpRequest& req);
  HttpResponse Change(ReleasePlanId id, const HttpRequest& req);
  ReleaseService& releases_;
};

}  // namespace outflow::api
