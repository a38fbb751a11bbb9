// TrackingService: what tracking links and provider callbacks record
// (docs/sending.md "Tracking" and "Provider callbacks").
//
// Opens and clicks come from LinkTracker links; a forged or altered link is
// NotFound and records nothing. Provider callbacks name an account; their
// signature is checked with that account's credentials (Twilio: auth_token;
// WhatsApp Cloud: app_secret, and verify_token for the handshake; any account:
// callback_secret for Outflow's status endpoint). A bad or missing signature is
// Unauthenticated and records nothing; a status whose message is unknown (sent
// before Outflow, or pruned) is counted as unmatched and dropped, so that the
// provider does not retry it for ever.
//
// Everything here is a local read and one short write per event: it runs on the
// HTTP threads. Thread-safe.
#pragma once

#include <boost/json/object.hpp>

#include <functional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "sending/link_tracking.h"
#include "sending/provider_callbacks.h"
#include "store/outbox_store.h"

namespace outflow {

// An account and its opened credentials, for checking its callbacks.
struct CallbackAccount {
  SendingAccount account;
  boost::json::object credentials;
};
using CallbackAccountLookup = std::function<Result<CallbackAccount>(AccountId)>;

struct CallbackResult {
  int recorded = 0;   // events recorded
  int unmatched = 0;  // statuses for messages Outflow does not know
};

class TrackingService {
 public:
  // `links` may be null (no key: open and click links are NotFound); its public
  // URL is also the one Twilio signs when an account sets no status_callback.
  TrackingService(OutboxStore& outbox, const LinkTracker* links, CallbackAccountLookup accounts, Clock& clock);

  Status Open(std::string_view id, std::string_view tag);
  // The URL to redirect to.
  Result<std::string> Click(std::string_view id, std::string_view tag, std::string_view url);

  // `target` is the request's path and query as received (Twilio signs the URL it called).
  Result<CallbackResult> Twilio(AccountId account, std::string_view target, std::string_view body,
                                std::string_view signature);
  // The handshake: the challenge to echo when the token matches (else Unauthenticated).
  Result<std::string> WhatsAppHandshake(AccountId account, std::string_view mode, std::string_view verify_token,
                                        std::string_view challenge);
  Result<CallbackResult> WhatsApp(AccountId account, std::string_view body, std::string_view signature);
  Result<CallbackResult> StatusEndpoint(AccountId account, std::string_view body, std::string_view signature);

  // An unsubscribe link of a message of `source` to `contact`: records the
  // unsubscribed event on that message, which unsubscribes the contact in the same
  // transaction. False when there is no such message (the caller unsubscribes).
  Result<bool> UnsubscribedByLink(SourceRef source, ContactId contact);

  // Suppressed addresses (by address, after `after`), and lifting one.
  Result<std::vector<Suppression>> Suppressions(std::string_view after, int limit) {
    return outbox_.Suppressions(after, limit);
  }
  Status RemoveSuppression(std::string_view address) { return outbox_.RemoveSuppression(address); }

 private:
  Result<CallbackAccount> AccountFor(AccountId id, std::string_view provider);
  Result<std::string> Secret(const CallbackAccount& a, std::string_view name);
  Result<CallbackResult> Apply(AccountId account, const std::vector<ProviderStatus>& statuses);

  OutboxStore& outbox_;
  const LinkTracker* links_;
  CallbackAccountLookup accounts_;
  Clock& clock_;
};

}  // namespace outflow
