// The import routes of the REST API (docs/api.md):
//
//   POST /v1/imports               the request body is the CSV file, streamed to disk;
//                                  options in the query: name, delimiter (comma,
//                                  semicolon, tab; default detect), on_existing
//                                  (update, skip, fail), owner, segment (a static
//                                  segment every row joins), staging (true/false),
//                                  create_fields (true/false), map=Column:field
//                                  (repeatable; an empty field ignores the column)
//                                                      202 with the import
//   GET  /v1/imports               newest first (limit)
//   GET  /v1/imports/{id}          state and progress
//   GET  /v1/imports/{id}/errors   the error report, text/csv: row,column,value,reason
//   POST /v1/imports/{id}/cancel
// Thread-safe.
#pragma once

#include <optional>
#include <string_view>

#include "api/http_server.h"
#include "ingest/import_service.h"

namespace outflow::api {

class ImportsApi {
 public:
  explicit ImportsApi(ImportService& imports) : imports_(imports) {}
  std::optional<HttpResponse> Route(const HttpRequest& req, std::string_view path, std::string_view query);

 private:
  HttpResponse Create(const HttpRequest& req, std::string_view query);

  ImportService& imports_;
};

}  // namespace outflow::api
