// Sending accounts, message templates, campaigns and the per-recipient ledger
// (docs/campaigns.md).
//
// Campaign lifecycle (each transition timestamped):
//
//   draft -> scheduled -> processing -> completed | failed
//   scheduled | processing <-> paused;  draft | scheduled | processing | paused -> cancelled
//   scheduled -> failed (missed: its time passed longer ago than missed_after)
//
// The audience is frozen into the outbox when processing starts: one message per
// (campaign, contact), unique, which is what makes a resend impossible.
//
// Recipients are the campaign's messages in the outbox (domain/message.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/strong_id.h"
#include "base/time.h"
#include "time/send_window.h"

namespace outflow {

struct AccountIdTag {};
using AccountId = StrongId<AccountIdTag>;
struct TemplateIdTag {};
using TemplateId = StrongId<TemplateIdTag>;
struct CampaignIdTag {};
using CampaignId = StrongId<CampaignIdTag>;

enum class Channel { kEmail, kSms, kWhatsapp, kWebhook, kLog };
std::string_view ChannelName(Channel c);
std::optional<Channel> ParseChannel(std::string_view s);

// Rules for each contact, across every source (docs/sending.md "Per-contact rules").
// Nothing applies unless set.
struct QuietHours {
  int start_minute = 0;  // local minutes after midnight; start > end wraps past midnight
  int end_minute = 0;
};
struct ContactRules {
  std::optional<int> per_day;             // at most this many sends per contact and channel in any 24 h
  std::optional<int> per_week;            // ... in any 7 days
  bool skip_over_cap = false;             // over a cap: skipped with the reason (else deferred until under it)
  std::optional<QuietHours> quiet_hours;  // in the contact's zone (the account's when it has none)
  bool capped() const { return per_day.has_value() || per_week.has_value(); }
  bool empty() const { return !capped() && !quiet_hours; }
};
// `own` with each unset part taken from `fallback` (the global rules).
ContactRules MergeRules(const ContactRules& own, const ContactRules& fallback);
Status ValidateRules(const ContactRules& r, std::string_view field);

// A channel's provider settings, credentials and limits.
struct SendingAccount {
  AccountId id;
  std::string name;
  Channel channel = Channel::kLog;
  std::string provider;              // smtp | whatsapp_cloud | twilio_sms | http | webhook | log
  std::string settings_json = "{}";  // provider settings (no secrets)
  bool has_credentials = false;      // the sealed credentials are never read back out
  int rate_per_second = 10;          // hard ceiling in any 1 s sliding window
  int burst = 10;                    // 1..rate_per_second
  std::optional<int64_t> daily_cap;  // sends per local day of time_zone
  std::string time_zone = "UTC";
  std::vector<Window> windows;  // empty: any time
  ContactRules rules;           // per contact, over the global ones
  Timestamp created_at;
  Timestamp updated_at;
};

inline constexpr int kMaxRatePerSecond = 100'000;

// Checks names, limits, the time zone and the windows. Errors name the field.
Status ValidateAccount(const SendingAccount& a);

struct MessageTemplateRecord {
  TemplateId id;
  std::string name;
  std::string subject;
  std::string text;
  std::string html;
  // Email: rewrite the html part's links to signed click-tracking links and add an
  // open pixel (docs/sending.md "Tracking"). Off: the message goes as written.
  bool tracking = true;
  Timestamp created_at;
  Timestamp updated_at;
};

enum class CampaignState { kDraft, kScheduled, kProcessing, kPaused, kCompleted, kFailed, kCancelled };
std::string_view CampaignStateName(CampaignState s);
std::optional<CampaignState> ParseCampaignState(std::string_view s);
inline bool IsFinished(CampaignState s) {
  return s == CampaignState::kCompleted || s == CampaignState::kFailed || s == CampaignState::kCancelled;
}

// What happens when the account's daily cap is reached with recipients left.
enum class CapPolicy { kWait, kFail };

// Who a campaign goes to: the live members of any of `segments`, minus the members
// of `exclude_segment`. (A CSV for one campaign is imported into a static segment.)
struct Audience {
  std::vector<int64_t> segments;
  std::optional<int64_t> exclude_segment;
};

// Messages with at least one event of each kind from tracking and provider
// callbacks (docs/sending.md "Tracking"); each message counts once per kind.
struct EngagementCounts {
  int64_t delivered = 0, opened = 0, clicked = 0, bounced = 0, complained = 0, unsubscribed = 0;
};

struct CampaignCounts {
  int64_t total = 0;
  int64_t pending = 0;  // includes those being sent
  int64_t sent = 0;
  int64_t failed = 0;
  int64_t skipped = 0;
  int64_t cancelled = 0;
  EngagementCounts engagement;
};

struct Campaign {
  CampaignId id;
  std::string name;
  AccountId account;
  TemplateId template_id;
  Audience audience;
  std::optional<Timestamp> scheduled_at;  // none: send now. With local_send_at: the earliest instant (UTC+14)
  std::string time_zone = "UTC";          // the zone scheduled_at was given in (for display)
  // Set: send at this local wall time ("2027-01-07T10:00") in each contact's own zone
  // (the campaign's time_zone for a contact without one), each instant by the point
  // rule of time/local_day.h. The start job runs at scheduled_at, the earliest such
  // instant; a contact whose local time has passed by then is sent to at once.
  std::optional<std::string> local_send_at;
  CapPolicy cap_policy = CapPolicy::kWait;
  std::optional<int64_t> missed_after_seconds;  // a campaign later than this when the daemon is back fails as missed
  int max_attempts = 5;
  CampaignState state = CampaignState::kDraft;
  std::string error;
  CampaignCounts counts;
  Timestamp created_at;
  Timestamp updated_at;
  std::optional<Timestamp> scheduled_state_at, started_at, paused_at, completed_at, failed_at, cancelled_at;
};

inline constexpr int64_t kMaxMissedAfterSeconds = 366 * 86400;

Status ValidateCampaign(const Campaign& c);

// The first and last instants at which some zone's clock reads `wall` (UTC+14 and
// UTC-12). InvalidArgument naming `field` for text that is not a local date-time.
struct LocalSendRange {
  Timestamp earliest;
  Timestamp latest;
};
Result<LocalSendRange> LocalSendRangeOf(const std::string& wall, std::string_view field);

// A campaign's recipient is its message in the outbox (domain/message.h), seen as
// the ledger: queued and deferred are pending.
enum class RecipientState { kPending, kSending, kSent, kFailed, kSkipped, kCancelled };
std::string_view RecipientStateName(RecipientState s);
std::optional<RecipientState> ParseRecipientState(std::string_view s);

struct Recipient {
  CampaignId campaign;
  int64_t contact_id = 0;
  RecipientState state = RecipientState::kPending;
  std::string address;  // email or phone, frozen at fan-out
  int attempts = 0;
  std::optional<Timestamp> next_attempt_at;
  std::optional<Timestamp> last_attempt_at;
  std::string provider_id;
  std::string error;
  Timestamp updated_at;
};

}  // namespace outflow
