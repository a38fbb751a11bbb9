// The tracking and callback routes (docs/api.md, docs/sending.md "Tracking"):
//
//   GET    /t/o/{id}/{tag}.gif            an email's open pixel: records the open
//   GET    /t/c/{id}/{tag}?u={url}        a click link: records the click, 302 to the URL
//                                         (a forged or altered link: 404, nothing recorded)
//   POST   /v1/callbacks/twilio/{account}    Twilio status callbacks (X-Twilio-Signature)
//   GET    /v1/callbacks/whatsapp/{account}  the WhatsApp Cloud subscription handshake
//   POST   /v1/callbacks/whatsapp/{account}  WhatsApp Cloud webhooks (X-Hub-Signature-256)
//   POST   /v1/callbacks/status/{account}    Outflow's signed status endpoint (X-Outflow-Signature)
//                                         A bad or missing signature: 401, nothing recorded.
//   GET    /v1/suppressions               ?after&limit: addresses never sent to again
//   DELETE /v1/suppressions/{address}     lifts one
//
// Thread-safe.
#pragma once

#include <optional>
#include <string_view>

#include "api/http_server.h"
#include "sending/tracking_service.h"

namespace outflow::api {

class TrackingApi {
 public:
  explicit TrackingApi(TrackingService& tracking) : tracking_(tracking) {}
  // The response for the routes above; nullopt for any other path.
  std::optional<HttpResponse> Route(const HttpRequest& req, std::string_view path, std::string_view query);

 private:
  HttpResponse Open(std::string_view rest);
  HttpResponse Click(std::string_view rest, std::string_view query);
  HttpResponse Callback(const HttpRequest& req, std::string_view rest, std::string_view query);
  HttpResponse Suppressions(const HttpRequest& req, std::string_view path, std::string_view query);

  TrackingService& tracking_;
};

}  // namespace outflow::api
