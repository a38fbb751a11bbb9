#include "domain/campaign.h"

#include <array>

#include "domain/contact.h"
#include "time/local_day.h"

namespace outflow {
namespace {

template <typename E, size_t N>
std::optional<E> ParseName(std::string_view s, const std::array<E, N>& all, std::string_view (*name)(E)) {
  for (E e : all) {
    if (name(e) == s) return e;
  }
  return std::nullopt;
}

Status ValidateName(const std::string& name, std::string_view field) {
  if (name.empty()) return Status::InvalidArgument(std::string(field) + ": must not be empty");
  if (name.size() > kMaxNameBytes) {
    return Status::InvalidArgument(std::string(field) + ": at most " + std::to_string(kMaxNameBytes) + " bytes");
  }
  return Status::Ok();
}

}  // namespace

std::string_view ChannelName(Channel c) {
  switch (c) {
    case Channel::kEmail: return "email";
    case Channel::kSms: return "sms";
    case Channel::kWhatsapp: return "whatsapp";
    case Channel::kWebhook: return "webhook";
    case Channel::kLog: return "log";
  }
  return "log";
}

std::optional<Channel> ParseChannel(std::string_view s) {
  static constexpr std::array kAll{Channel::kEmail, Channel::kSms, Channel::kWhatsapp, Channel::kWebhook,
                                   Channel::kLog};
  return ParseName(s, kAll, &ChannelName);
}

std::string_view CampaignStateName(CampaignState s) {
  switch (s) {
    case CampaignState::kDraft: return "draft";
    case CampaignState::kScheduled: return "scheduled";
    case CampaignState::kProcessing: return "processing";
    case CampaignState::kPaused: return "paused";
    case CampaignState::kCompleted: return "completed";
    case CampaignState::kFailed: return "failed";
    case CampaignState::kCancelled: return "cancelled";
  }
  return "draft";
}

std::optional<CampaignState> ParseCampaignState(std::string_view s) {
  static constexpr std::array kAll{CampaignState::kDraft,    CampaignState::kScheduled, CampaignState::kProcessing,
                                   CampaignState::kPaused,   CampaignState::kCompleted, CampaignState::kFailed,
                                   CampaignState::kCancelled};
  return ParseName(s, kAll, &CampaignStateName);
}

std::string_view RecipientStateName(RecipientState s) {
  switch (s) {
    case RecipientState::kPending: return "pending";
    case RecipientState::kSending: return "sending";
    case RecipientState::kSent: return "sent";
    case RecipientState::kFailed: return "failed";
    case RecipientState::kSkipped: return "skipped";
    case RecipientState::kCancelled: return "cancelled";
  }
  return "pending";
}

std::optional<RecipientState> ParseRecipientState(std::string_view s) {
  static constexpr std::array kAll{RecipientState::kPending, RecipientState::kSending, RecipientState::kSent,
                                   RecipientState::kFailed,  RecipientState::kSkipped, RecipientState::kCancelled};
  return ParseName(s, kAll, &RecipientStateName);
}

Result<LocalSendRange> LocalSendRangeOf(const std::string& wall, std::string_view field) {
  if (wall.find_first_of("Zz+") != std::string::npos || wall.rfind('-') > 7) {
    return Status::InvalidArgument(std::string(field) + ": '" + wall.substr(0, 40) +
                                   "' must be a local date-time without an offset (YYYY-MM-DDTHH:MM)");
  }
  OUTFLOW_ASSIGN_OR_RETURN(Timestamp as_utc, ParseLocalDateTime("UTC", wall, field));
  return LocalSendRange{as_utc - std::chrono::hours(14), as_utc + std::chrono::hours(12)};
}

ContactRules MergeRules(const ContactRules& own, const ContactRules& fallback) {
  ContactRules out = own;
  if (!own.capped()) {
    out.per_day = fallback.per_day;
    out.per_week = fallback.per_week;
    out.skip_over_cap = fallback.skip_over_cap;
  }
  if (!out.quiet_hours) out.quiet_hours = fallback.quiet_hours;
  return out;
}

Status ValidateRules(const ContactRules& r, std::string_view field) {
  const std::string f(field);
  for (const auto& [v, name] : {std::pair{r.per_day, "per_day"}, std::pair{r.per_week, "per_week"}}) {
    if (v && (*v < 1 || *v > 10000)) {
      return Status::InvalidArgument(f + ".frequency_cap." + name + ": must be between 1 and 10000");
    }
  }
  if (r.quiet_hours) {
    const QuietHours& q = *r.quiet_hours;
    if (q.start_minute < 0 || q.start_minute >= 1440 || q.end_minute < 0 || q.end_minute >= 1440 ||
        q.start_minute == q.end_minute) {
      return Status::InvalidArgument(f + ".quiet_hours: start and end must be two different times of day");
    }
  }
  return Status::Ok();
}

Status ValidateAccount(const SendingAccount& a) {
  OUTFLOW_RETURN_IF_ERROR(ValidateName(a.name, "name"));
  if (a.provider.empty()) return Status::InvalidArgument("provider: must not be empty");
  if (a.rate_per_second < 1 || a.rate_per_second > kMaxRatePerSecond) {
    return Status::InvalidArgument("rate_per_second: must be between 1 and " + std::to_string(kMaxRatePerSecond));
  }
  if (a.burst < 1 || a.burst > a.rate_per_second) {
    return Status::InvalidArgument("burst: must be between 1 and rate_per_second (" +
                                   std::to_string(a.rate_per_second) + ")");
  }
  if (a.daily_cap && *a.daily_cap < 1) return Status::InvalidArgument("daily_cap: must be at least 1");
  OUTFLOW_RETURN_IF_ERROR(ValidateTimeZone(a.time_zone, "time_zone"));
  OUTFLOW_RETURN_IF_ERROR(ValidateRules(a.rules, "contact_rules"));
  return SendWindows::Create(a.time_zone, a.windows).status();
}

Status ValidateCampaign(const Campaign& c) {
  OUTFLOW_RETURN_IF_ERROR(ValidateName(c.name, "name"));
  if (c.audience.segments.empty()) return Status::InvalidArgument("audience.segments: give at least one segment");
  if (c.max_attempts < 1 || c.max_attempts > 100) {
    return Status::InvalidArgument("max_attempts: must be between 1 and 100");
  }
  if (c.missed_after_seconds && (*c.missed_after_seconds < 0 || *c.missed_after_seconds > kMaxMissedAfterSeconds)) {
    return Status::InvalidArgument("missed_after_seconds: must be between 0 and " +
                                   std::to_string(kMaxMissedAfterSeconds) + " (a year)");
  }
  return ValidateTimeZone(c.time_zone, "time_zone");
}

}  // namespace outflow
