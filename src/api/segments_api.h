// The segment routes of the REST API (docs/api.md):
//
//   POST   /v1/segments                      {"name", "kind"?: static|dynamic, "filter"?}   201
//   GET    /v1/segments
//   GET    /v1/segments/{id}                  with member_count
//   DELETE /v1/segments/{id}                  204
//   GET    /v1/segments/{id}/members          ?after&limit: contact ids, ascending
//   POST   /v1/segments/{id}/members          {"contact_ids": [...]}   static segments only
//   POST   /v1/segments/{id}/members/remove   {"contact_ids": [...]}   static segments only
//   GET    /v1/segments/events                ?after&limit: the durable log of joins and leaves
// Thread-safe.
#pragma once

#include <optional>
#include <string_view>

#include "api/http_server.h"
#include "contacts/segment_service.h"

namespace outflow::api {

class SegmentsApi {
 public:
  explicit SegmentsApi(SegmentService& segments) : segments_(segments) {}
  std::optional<HttpResponse> Route(const HttpRequest& req, std::string_view path, std::string_view query);

 private:
  HttpResponse Create(const HttpRequest& req);
  HttpResponse ChangeMembers(SegmentId id, const HttpRequest& req, bool add);

  SegmentService& segments_;
};

}  // namespace outflow::api
