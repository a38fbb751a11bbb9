#include "channels/sender_factory.h"

#include <boost/json.hpp>

#include "channels/http_provider/http_provider_sender.h"
#include "channels/log/log_sender.h"
#include "channels/smtp/smtp_sender.h"

namespace outflow::channels {

namespace json = boost::json;

namespace {

Result<json::object> ParseObject(std::string_view text, std::string_view field) {
  if (text.empty()) return json::object();
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return Status::InvalidArgument(std::string(field) + ": not valid JSON (" + ec.message() + ")");
  if (!v.is_object()) return Status::InvalidArgument(std::string(field) + ": must be a JSON object");
  return std::move(v.as_object());
}

bool ProviderSends(std::string_view provider, Channel channel) {
  if (provider == "log") return true;
  switch (channel) {
    case Channel::kEmail: return provider == "smtp";
    case Channel::kSms: return provider == "twilio_sms" || provider == "http" || provider == "webhook";
    case Channel::kWhatsapp: return provider == "whatsapp_cloud" || provider == "http" || provider == "webhook";
    case Channel::kWebhook: return provider == "http" || provider == "webhook";
    case Channel::kLog: return false;
  }
  return false;
}

// The generic webhook: the http preset posting the whole message as JSON unless a
// body or form is given.
void WebhookDefaults(json::object& settings) {
  settings["preset"] = "http";
  if (!settings.contains("body") && !settings.contains("form")) {
    settings["body"] = json::object{{"idempotency_key", "{{idempotency_key}}"},
                                    {"to", "{{to}}"},
                                    {"to_name", "{{to_name}}"},
                                    {"subject", "{{subject}}"},
                                    {"text", "{{text}}"}};
  }
}

Result<std::unique_ptr<ChannelSender>> Build(const SendingAccount& a, std::string_view credentials_json, Clock& clock,
                                             const net::OutboundPolicy& outbound) {
  if (!ProviderSends(a.provider, a.channel)) {
    if (a.provider != "smtp" && a.provider != "whatsapp_cloud" && a.provider != "twilio_sms" && a.provider != "http" &&
        a.provider != "webhook" && a.provider != "log") {
      return Status::InvalidArgument("provider: '" + a.provider +
                                     "' is not one of smtp, whatsapp_cloud, twilio_sms, http, webhook, log");
    }
    return Status::InvalidArgument("provider: '" + a.provider + "' does not send " +
                                   std::string(ChannelName(a.channel)));
  }
  OUTFLOW_ASSIGN_OR_RETURN(json::object settings, ParseObject(a.settings_json, "settings"));
  OUTFLOW_ASSIGN_OR_RETURN(json::object credentials, ParseObject(credentials_json, "credentials"));
  // Secrets that check the provider's callbacks to Outflow (sending/tracking_service.h),
  // not the channel's: every account may have a callback_secret, WhatsApp its app's.
  credentials.erase("callback_secret");
  if (a.provider == "whatsapp_cloud") {
    credentials.erase("app_secret");
    credentials.erase("verify_token");
  }
  if (a.provider == "log") return MakeLogSender(a.name);
  if (a.provider == "smtp") {
    OUTFLOW_ASSIGN_OR_RETURN(SmtpSettings s, ParseSmtpSettings(settings, credentials));
    return MakeSmtpSender(std::move(s), clock, outbound);
  }
  if (a.provider == "webhook") {
    WebhookDefaults(settings);
  } else {
    settings["preset"] = a.provider;
  }
  return MakeHttpProviderSender(settings, credentials, clock, outbound);
}

}  // namespace

Status CheckSenderSettings(const SendingAccount& account, std::string_view credentials_json) {
  static const net::OutboundPolicy kNeverConnects = net::OutboundPolicy::AllowAll();  // the sender is only built
  return Build(account, credentials_json, SystemClock::Instance(), kNeverConnects).status();
}

Result<std::unique_ptr<ChannelSender>> MakeSender(const SendingAccount& account, std::string_view credentials_json,
                                                  Clock& clock, const net::OutboundPolicy& outbound) {
  return Build(account, credentials_json, clock, outbound);
}

}  // namespace outflow::channels
