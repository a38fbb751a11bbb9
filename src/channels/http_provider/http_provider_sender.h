// HTTP provider sender: a ChannelSender for SMS and WhatsApp providers reached by
// one HTTP request per message (WhatsApp Cloud API, Twilio, or any JSON/form API).
//
// Settings (the account's settings JSON; "preset" picks the shape):
//   common:         "preset": "whatsapp_cloud" | "twilio_sms" | "http",
//                   "concurrency"?: 64 (1..1024 requests in flight, and at most that
//                   many connections), "timeout_ms"?: 10000 (per request, 100..120000)
//   whatsapp_cloud: "phone_number_id", "api_version"?: "v19.0",
//                   "base_url"?: "https://graph.facebook.com",
//                   "message_type"?: "text" | "template",
//                   "template"?: {"name", "language": "en_US", "body_params"?: ["var", ...]}
//                   credentials {"access_token"}
//                   POST {base}/{version}/{phone_number_id}/messages, Bearer auth, id at
//                   /messages/0/id; Verify: GET {base}/{version}/{phone_number_id}.
//   twilio_sms:     "account_sid", "from" | "messaging_service_sid", "status_callback"?,
//                   "base_url"?: "https://api.twilio.com"
//                   credentials {"auth_token"}
//                   POST {base}/2010-04-01/Accounts/{sid}/Messages.json, form-encoded
//                   To, From | MessagingServiceSid, Body; HTTP basic sid:auth_token;
//                   id at /sid; Verify: GET {base}/2010-04-01/Accounts/{sid}.json.
//   http:           "url", "method"?: "POST", "headers"?: {"Name": "value"},
//                   "body"?: <a JSON template> | "form"?: {"Name": "template"},
//                   "auth"?: "none" | "bearer" | "basic", "id_pointer"?: "/id",
//                   "verify_url"?: "https://..." (GET; no verify_url: Verify checks nothing)
//                   credentials {"token"} (bearer) or {"username", "password"} (basic)
//
// Templates: in a JSON body every string may hold placeholders {{to}}, {{to_name}},
// {{text}}, {{subject}}, {{idempotency_key}} and {{var.NAME}} (OutboundMessage::vars;
// missing is empty). They are found once, in the serialised JSON text, when the
// sender is made (an unknown placeholder is an error naming the field), and filled
// per message by copying the literal pieces and appending each value JSON-escaped
// (invalid UTF-8 becomes U+FFFD) — no parse or tree per message. Form values take
// the same placeholders, percent-encoded.
//
// Every request carries Idempotency-Key: <idempotency_key> (and, for twilio_sms,
// I-Twilio-Idempotency-Token with the same value).
//
// Classification: 2xx is kSent with provider_id read at the JSON pointer (a missing
// id is still kSent, with an empty provider_id and a logged warning); 408, 425, 429,
// 5xx, timeouts and connection errors are kTransient with Retry-After (seconds or
// an HTTP date) as retry_after; so are the providers' rate-limit codes whatever the
// status (WhatsApp 4, 80007, 130429, 131056; Twilio 20429). Any other status is
// kPermanent; `error` is "HTTP <status>: <the provider's message> (code N)". A
// destination the outbound policy refuses (net/outbound_policy.h) is kPermanent with
// the policy's reason, and Verify() then fails with InvalidArgument.
//
// Connection reuse: one curl multi handle with `concurrency` easy handles lives as
// long as the sender; a batch is sent concurrently over kept-alive connections that
// stay open for the next batch. Per message the sender writes the body and one
// header into buffers the handle keeps, so steady-state sending allocates only the
// results' strings.
//
// Thread-safety: a sender is used by one thread at a time (ChannelSender).
#pragma once

#include <memory>

#include <boost/json/object.hpp>

#include "base/clock.h"
#include "base/status.h"
#include "channels/channel.h"
#include "net/outbound_policy.h"

namespace outflow::channels {

// Builds a sender from an account's settings and decrypted credentials. Errors are
// InvalidArgument naming the field ("settings.phone_number_id: is required").
// REQUIRES: `clock` (it turns an HTTP-date Retry-After into a delay) and `outbound`
// (every connection is checked against it) outlive the sender.
Result<std::unique_ptr<ChannelSender>> MakeHttpProviderSender(const boost::json::object& settings,
                                                              const boost::json::object& credentials, Clock& clock,
                                                              const net::OutboundPolicy& outbound);

}  // namespace outflow::channels
