// Provider status callbacks: checking their signatures and reading the statuses
// they report (docs/sending.md "Provider callbacks"). Pure functions; thread-safe.
//
// Twilio status callbacks: a form-encoded POST signed in X-Twilio-Signature,
//   base64(HMAC-SHA1(auth token, the URL Twilio requested + each POST parameter's
//   name and value, sorted by name)).
//   MessageStatus delivered -> delivered, read -> opened, undelivered | failed ->
//   bounced (permanent for error codes that name a bad number: 21211, 21614,
//   30005, 30006), error 21610 (the recipient replied STOP) -> unsubscribed.
// WhatsApp Cloud webhooks: a JSON POST signed in X-Hub-Signature-256,
//   "sha256=" + hex(HMAC-SHA256(app secret, body)); statuses at
//   entry[].changes[].value.statuses[] {id, status, timestamp, errors[]}:
//   delivered -> delivered, read -> opened, failed -> bounced (permanent for
//   131026, message undeliverable), error 131050 (the user stopped marketing
//   messages) -> unsubscribed. The subscription handshake (GET with hub.mode,
//   hub.verify_token, hub.challenge) is answered by the service.
// Outflow's status endpoint, for any other provider or relay: a JSON POST
//   {"events": [{"provider_id" | "message_id", "event", "at"?, "detail"?,
//   "permanent"?}]} signed in X-Outflow-Signature, "t=<unix seconds>,v1=" +
//   hex(HMAC-SHA256(callback secret, "<t>." + body)); t within 5 minutes of now.
// Statuses that are not events (queued, sent, accepted, ...) are left out.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "domain/message.h"

namespace outflow {

// One status a provider reported. The message is named by the provider's id, or
// (Outflow's endpoint only) by Outflow's message id.
struct ProviderStatus {
  std::string provider_id;
  std::optional<MessageId> message;
  MessageEventKind kind = MessageEventKind::kDelivered;
  Timestamp at;
  std::string detail;
  bool permanent = false;
};

// Each returns Unauthenticated, saying what is wrong, unless the signature is good.
Status VerifyTwilioSignature(std::string_view url, std::string_view form_body, std::string_view signature,
                             std::string_view auth_token);
Status VerifyMetaSignature(std::string_view body, std::string_view signature, std::string_view app_secret);
Status VerifyOutflowSignature(std::string_view body, std::string_view signature, std::string_view secret,
                              Timestamp now);
// The header value a sender of Outflow's status endpoint sets (tests, relays).
std::string OutflowSignature(std::string_view body, std::string_view secret, Timestamp at);

// InvalidArgument naming the field for a body that is not of the provider's form.
Result<std::vector<ProviderStatus>> ParseTwilioStatus(std::string_view form_body, Timestamp now);
Result<std::vector<ProviderStatus>> ParseWhatsAppStatuses(std::string_view body, Timestamp now);
Result<std::vector<ProviderStatus>> ParseOutflowStatuses(std::string_view body, Timestamp now);

inline constexpr Duration kSignatureTolerance = std::chrono::minutes(5);

}  // namespace outflow
