// The contact routes of the REST API (docs/api.md):
//
//   POST   /v1/contacts                 create            201; 409 on a duplicate email or external id
//   POST   /v1/contacts/upsert          create or merge   ?on_existing=update|skip|fail; one contact
//                                       or {"contacts": [...]} (up to 10,000: rows fail alone)
//   GET    /v1/contacts                 list: email, external_id, owner, pipeline_stage, tier, status,
//                                       limit, after
//   GET    /v1/contacts/count           the same filters, {"count": n}
//   GET    /v1/contacts/{id}
//   PATCH  /v1/contacts/{id}            fields given are set; null clears; custom fields merge by name
//   DELETE /v1/contacts/{id}            204
//   POST   /v1/fields                   define a custom field {"name", "type", "label"?}
//   GET    /v1/fields
//
// Thread-safe.
#pragma once

#include <optional>
#include <string_view>

#include "api/http_server.h"
#include "contacts/contact_service.h"

namespace outflow::api {

class ContactsApi {
 public:
  explicit ContactsApi(ContactService& contacts) : contacts_(contacts) {}
  // The response for a contact or field route; nullopt when `path` is not one.
  std::optional<HttpResponse> Route(const HttpRequest& req, std::string_view path, std::string_view query);

 private:
  HttpResponse Create(const HttpRequest& req);
  HttpResponse Upsert(const HttpRequest& req, std::string_view query);
  HttpResponse List(std::string_view query, bool count_only);
  HttpResponse Patch(ContactId id, const HttpRequest& req);
  HttpResponse DefineField(const HttpRequest& req);
  HttpResponse ListFields();

  ContactService& contacts_;
};

}  // namespace outflow::api
