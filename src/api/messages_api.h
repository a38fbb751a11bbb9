// The message routes of the REST API (docs/api.md, docs/sending.md):
//
//   POST /v1/messages              {"account_id", "contact_id" | "email" | "phone", "template_id",
//                                   "variables"?, "send_at"?, "idempotency_key"?, "max_attempts"?}
//                                  202 {"message", "duplicate": false}; 200 with "duplicate": true
//                                  when the key was used before (the first message)
//   POST /v1/messages/batch        {"messages": [up to 1,000 of the above]}
//                                  200 {"results": [{"status", "message"|"error"}, ...]}, in order
//   GET  /v1/messages              ?state&account_id&contact_id&source_kind&source_id&after&limit
//   GET  /v1/messages/{id}
//   GET  /v1/contacts/{id}/messages ?after&limit: the contact's messages from every source
//
// Thread-safe.
#pragma once

#include <optional>
#include <string_view>

#include "api/http_server.h"
#include "sending/message_service.h"

namespace outflow::api {

class MessagesApi {
 public:
  explicit MessagesApi(MessageService& messages) : messages_(messages) {}
  // The response for /v1/messages... and /v1/contacts/{id}/messages; nullopt otherwise.
  std::optional<HttpResponse> Route(const HttpRequest& req, std::string_view path, std::string_view query);

 private:
  HttpResponse SendOne(const HttpRequest& req);
  HttpResponse SendBatch(const HttpRequest& req);
  HttpResponse List(std::string_view query, std::optional<ContactId> contact);

  MessageService& messages_;
};

}  // namespace outflow::api
