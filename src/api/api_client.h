// ApiClient: the CLI's way to the daemon. Every CLI command that reads or changes
// jobs is a call to the REST API, so it goes through exactly the code path that
// other API clients use. Plain HTTP on a blocking Beast connection; it lives in
// api/ because only this module uses Beast.
#pragma once

#include <string>

#include "base/status.h"

namespace outflow::api {

struct ApiReply {
  int status = 0;
  std::string body;
};

class ApiClient {
 public:
  // `base_url` is http://host:port. InvalidArgument for anything else. A non-empty
  // `api_key` is sent with every request as "Authorization: Bearer <key>".
  static Result<ApiClient> Create(const std::string& base_url, const std::string& api_key = "");
  // Unavailable when the daemon cannot be reached; any HTTP status is a reply.
  Result<ApiReply> Call(const std::string& method, const std::string& target, const std::string& body = "");
  // POSTs the file at `path` as the request body, streamed from disk.
  Result<ApiReply> Upload(const std::string& target, const std::string& path);
  const std::string& base_url() const { return base_url_; }

 private:
  std::string base_url_;
  std::string host_;
  std::string port_;
  std::string api_key_;
};

}  // namespace outflow::api
