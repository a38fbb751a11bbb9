#include "sending/tracking_service.h"

#include <boost/json.hpp>

#include "base/log.h"

namespace outflow {

TrackingService::TrackingService(OutboxStore& outbox, const LinkTracker* links, CallbackAccountLookup accounts,
                                 Clock& clock)
    : outbox_(outbox), links_(links), accounts_(std::move(accounts)), clock_(clock) {}

Status TrackingService::Open(std::string_view id, std::string_view tag) {
  std::optional<MessageId> m = links_ ? links_->VerifyOpen(id, tag) : std::nullopt;
  if (!m) return Status::NotFound("no such link");
  Result<bool> r = outbox_.RecordEvent({*m, MessageEventKind::kOpened, clock_.Now(), {}, false});
  if (!r.ok() && r.status().code() == Code::kNotFound) return Status::Ok();  // pruned since: nothing to record
  return r.status();
}

Result<std::string> TrackingService::Click(std::string_view id, std::string_view tag, std::string_view url) {
  std::optional<MessageId> m = links_ ? links_->VerifyClick(id, tag, url) : std::nullopt;
  if (!m) return Status::NotFound("no such link");
  Result<bool> r = outbox_.RecordEvent({*m, MessageEventKind::kClicked, clock_.Now(), std::string(url), false});
  if (!r.ok() && r.status().code() != Code::kNotFound) return r.status();
  return std::string(url);  // the link is genuine: the recipient goes on even if the message was pruned
}

Result<bool> TrackingService::UnsubscribedByLink(SourceRef source, ContactId contact) {
  MessageFilter f;
  f.contact = contact;
  f.source = source;
  f.limit = 1;
  OUTFLOW_ASSIGN_OR_RETURN(std::vector<Message> found, outbox_.List(f));
  if (found.empty()) return false;
  Result<bool> r =
      outbox_.RecordEvent({found.front().id, MessageEventKind::kUnsubscribed, clock_.Now(), "unsubscribe link"});
  if (!r.ok() && r.status().code() == Code::kNotFound) return false;
  OUTFLOW_RETURN_IF_ERROR(r.status());
  return true;
}

Result<CallbackAccount> TrackingService::AccountFor(AccountId id, std::string_view provider) {
  Result<CallbackAccount> a = accounts_(id);
  if (!a.ok()) {
    // An unknown account is told apart from a bad signature only after the check
    // would have failed anyway: both are 401, so ids cannot be probed.
    if (a.status().code() == Code::kNotFound) return Status::Unauthenticated("unknown account");
    return a.status();
  }
  if (!provider.empty() && a->account.provider != provider) {
    return Status::Unauthenticated("account " + std::to_string(id.value()) + " is not a " + std::string(provider) +
                                   " account");
  }
  return a;
}

Result<std::string> TrackingService::Secret(const CallbackAccount& a, std::string_view name) {
  const boost::json::value* v = a.credentials.if_contains(name);
  if (v == nullptr || !v->is_string() || v->as_string().empty()) {
    return Status::Unauthenticated("account " + a.account.name + " has no credentials." + std::string(name) +
                                   " to check callbacks with");
  }
  return std::string(v->as_string());
}

Result<CallbackResult> TrackingService::Apply(AccountId account, const std::vector<ProviderStatus>& statuses) {
  CallbackResult out;
  for (const ProviderStatus& s : statuses) {
    std::optional<MessageId> id = s.message;
    if (!id) {
      OUTFLOW_ASSIGN_OR_RETURN(std::optional<Message> m, outbox_.FindByProviderId(account, s.provider_id));
      if (m) id = m->id;
    } else {
      // Outflow's id: only a message of this account.
      Result<Message> m = outbox_.Get(*id);
      if (!m.ok() && m.status().code() != Code::kNotFound) return m.status();
      if (!m.ok() || m->account != account) id.reset();
    }
    if (!id) {
      ++out.unmatched;
      continue;
    }
    Result<bool> r = outbox_.RecordEvent({*id, s.kind, s.at, s.detail, s.permanent});
    if (!r.ok()) {
      if (r.status().code() != Code::kNotFound) return r.status();
      ++out.unmatched;
      continue;
    }
    ++out.recorded;
  }
  if (out.unmatched > 0) {
    log::Info("callback statuses for unknown messages dropped",
              {{"account", account.value()}, {"unmatched", out.unmatched}});
  }
  return out;
}

Result<CallbackResult> TrackingService::Twilio(AccountId account, std::string_view target, std::string_view body,
                                               std::string_view signature) {
  OUTFLOW_ASSIGN_OR_RETURN(CallbackAccount a, AccountFor(account, "twilio_sms"));
  OUTFLOW_ASSIGN_OR_RETURN(std::string token, Secret(a, "auth_token"));
  // Twilio signs the URL it called: the account's status_callback when it set one.
  std::string url = (links_ != nullptr ? links_->public_url() : std::string()) + std::string(target);
  boost::system::error_code ec;
  boost::json::value settings = boost::json::parse(a.account.settings_json, ec);
  if (!ec && settings.is_object()) {
    if (const auto* cb = settings.as_object().if_contains("status_callback"); cb && cb->is_string()) {
      url = std::string(cb->as_string());
    }
  }
  OUTFLOW_RETURN_IF_ERROR(VerifyTwilioSignature(url, body, signature, token));
  OUTFLOW_ASSIGN_OR_RETURN(std::vector<ProviderStatus> statuses, ParseTwilioStatus(body, clock_.Now()));
  return Apply(account, statuses);
}

Result<std::string> TrackingService::WhatsAppHandshake(AccountId account, std::string_view mode,
                                                       std::string_view verify_token, std::string_view challenge) {
  OUTFLOW_ASSIGN_OR_RETURN(CallbackAccount a, AccountFor(account, "whatsapp_cloud"));
  OUTFLOW_ASSIGN_OR_RETURN(std::string token, Secret(a, "verify_token"));
  if (mode != "subscribe") return Status::InvalidArgument("hub.mode: must be subscribe");
  if (verify_token != token) return Status::Unauthenticated("hub.verify_token: does not match the account's");
  if (challenge.empty()) return Status::InvalidArgument("hub.challenge: is required");
  return std::string(challenge);
}

Result<CallbackResult> TrackingService::WhatsApp(AccountId account, std::string_view body, std::string_view signature) {
  OUTFLOW_ASSIGN_OR_RETURN(CallbackAccount a, AccountFor(account, "whatsapp_cloud"));
  OUTFLOW_ASSIGN_OR_RETURN(std::string secret, Secret(a, "app_secret"));
  OUTFLOW_RETURN_IF_ERROR(VerifyMetaSignature(body, signature, secret));
  OUTFLOW_ASSIGN_OR_RETURN(std::vector<ProviderStatus> statuses, ParseWhatsAppStatuses(body, clock_.Now()));
  return Apply(account, statuses);
}

Result<CallbackResult> TrackingService::StatusEndpoint(AccountId account, std::string_view body,
                                                       std::string_view signature) {
  OUTFLOW_ASSIGN_OR_RETURN(CallbackAccount a, AccountFor(account, ""));
  OUTFLOW_ASSIGN_OR_RETURN(std::string secret, Secret(a, "callback_secret"));
  OUTFLOW_RETURN_IF_ERROR(VerifyOutflowSignature(body, signature, secret, clock_.Now()));
  OUTFLOW_ASSIGN_OR_RETURN(std::vector<ProviderStatus> statuses, ParseOutflowStatuses(body, clock_.Now()));
  return Apply(account, statuses);
}

}  // namespace outflow
