// ChannelSender: the one interface every message channel implements (email over
// SMTP, HTTP providers for SMS and WhatsApp, webhook, log). Campaign sending sees
// only this; a sender is built from an account's settings and decrypted
// credentials by the channel's factory.
//
// Contract:
// - SendBatch sends every message of the batch (concurrently where the channel
//   can) and returns one SendResult per message, in input order. It never throws
//   and never retries: retry policy is the caller's, driven by SendResult::outcome.
// - Every request carries OutboundMessage::idempotency_key where the protocol has
//   a place for it (HTTP: an Idempotency-Key header; SMTP: the Message-ID), so a
//   provider that honours it sees no duplicate when a send is repeated.
// - Errors are classified: timeouts, connection errors, HTTP 408/425/429/5xx and
//   SMTP 4xx are kTransient (retry_after set when the provider said so); other
//   HTTP 4xx and SMTP 5xx are kPermanent, with the reason in `error`.
// - Verify checks settings and credentials once (e.g. SMTP login, a provider's
//   auth check) so that a campaign with bad credentials fails early with one clear
//   message instead of failing every recipient.
// Thread-safety: a sender is used by one thread at a time; it may keep
// connections open between calls (connection reuse).
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"

namespace outflow::channels {

// One message to one recipient, fully rendered.
struct OutboundMessage {
  std::string idempotency_key;  // stable per ledger entry: the same on every attempt
  std::string to;               // an email address, or an E.164 phone number
  std::string to_name;          // display name, may be empty
  std::string subject;          // email only
  std::string text;             // the plain-text body (SMS / WhatsApp: the message)
  std::string html;             // email only; empty: a text-only message
  std::string unsubscribe_url;  // email: the List-Unsubscribe header when not empty
  // Extra values for an HTTP provider's body template ({{to}}, {{text}} and these).
  std::map<std::string, std::string> vars;
};

enum class SendOutcome { kSent, kTransient, kPermanent };

struct SendResult {
  SendOutcome outcome = SendOutcome::kTransient;
  std::string provider_id;             // the provider's message id when sent
  std::string error;                   // why it was not sent
  std::optional<Duration> retry_after;  // when the provider asked for a delay
};

class ChannelSender {
 public:
  virtual ~ChannelSender() = default;
  virtual std::vector<SendResult> SendBatch(std::span<const OutboundMessage> messages) = 0;
  virtual Status Verify() = 0;
};

}  // namespace outflow::channels
