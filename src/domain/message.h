// Messages: the one outbox every message in Outflow goes through (docs/sending.md).
//
// A message is one send to one contact through one account, produced by a
// source (a campaign's fan-out, a transactional API call, and later a schedule
// occurrence, a journey step or an event rule). Its key is derived from
// (source, contact, step), so a producer that runs twice cannot make a second one.
//
//   queued -> sending -> sent | failed | queued (transient: retried at send_at)
//   queued | deferred -> skipped (no address, unsubscribed)   queued -> cancelled
//   failed -> queued (retry failed)
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/strong_id.h"
#include "base/time.h"
#include "domain/campaign.h"
#include "domain/contact.h"

namespace outflow {

struct MessageIdTag {};
using MessageId = StrongId<MessageIdTag>;

enum class MessageState { kQueued, kDeferred, kSending, kSent, kFailed, kSkipped, kCancelled };
std::string_view MessageStateName(MessageState s);
std::optional<MessageState> ParseMessageState(std::string_view s);
// Counted as pending in a source's counts: not yet sent, failed, skipped or cancelled.
inline bool IsPending(MessageState s) {
  return s == MessageState::kQueued || s == MessageState::kDeferred || s == MessageState::kSending;
}

// How a campaign's recipient shows a message's state (queued and deferred are pending).
RecipientState RecipientStateOf(MessageState s);

// Who produced a message. Lower priority numbers are sent first.
enum class SourceKind { kTransactional, kJourney, kRule, kSchedule, kCampaign };
std::string_view SourceKindName(SourceKind k);
std::optional<SourceKind> ParseSourceKind(std::string_view s);
int DefaultPriority(SourceKind k);

// One producer: a campaign (id = campaign id), the transactional sends of one
// account (id = account id), later a schedule, a journey, a rule.
struct SourceRef {
  SourceKind kind = SourceKind::kTransactional;
  int64_t id = 0;
  auto operator<=>(const SourceRef&) const = default;
};

// Sources are paused (a paused or failed campaign: nothing of it is claimed),
// active, or cancelled (its queued messages were cancelled).
enum class SourceState { kActive, kPaused, kCancelled };
std::string_view SourceStateName(SourceState s);

// What happened to a message, in its timeline (docs/sending.md "Tracking"). The
// first four come from the message's own row; the rest are recorded events from
// tracking links and provider callbacks.
enum class MessageEventKind {
  kQueued,
  kSent,
  kFailed,
  kSkipped,
  kCancelled,  // from the row
  kDelivered,
  kOpened,
  kClicked,
  kBounced,
  kComplained,
  kUnsubscribed,  // recorded
};
std::string_view MessageEventName(MessageEventKind k);
std::optional<MessageEventKind> ParseMessageEventKind(std::string_view s);
// Whether an event of this kind is recorded (and counted) rather than read from the row.
bool IsRecordedEvent(MessageEventKind k);

struct MessageEvent {
  MessageEventKind kind = MessageEventKind::kDelivered;
  Timestamp at;
  std::string detail;  // a clicked URL, a bounce's code and reason, a provider's status
};

// An event a tracking link or a provider's callback reports.
struct TrackingEvent {
  MessageId message;
  MessageEventKind kind = MessageEventKind::kDelivered;  // a recorded kind
  Timestamp at;
  std::string detail;
  // A bounce that will not heal (an unknown address) suppresses the address; a
  // complaint always does. A soft bounce is recorded and counted only.
  bool permanent = false;
};

struct MessageCounts {
  int64_t total = 0;
  int64_t pending = 0;  // queued, deferred or sending
  int64_t sent = 0;
  int64_t failed = 0;
  int64_t skipped = 0;
  int64_t cancelled = 0;
  // Messages with at least one such event (each message counted once per kind).
  EngagementCounts engagement;
};

// A message as a producer asks for it.
struct NewMessage {
  AccountId account;
  ContactId contact;
  TemplateId template_id;
  std::string variables_json;  // a JSON object of template values over the contact's; empty: none
  SourceRef source;
  int64_t step = 0;
  std::optional<int> priority;  // none: the source kind's default
  Timestamp send_at;            // earliest send time
  int max_attempts = 5;
  std::string client_key;  // transactional: the caller's idempotency key (empty: none)
};

struct Message {
  MessageId id;
  AccountId account;
  ContactId contact;
  TemplateId template_id;
  std::string variables_json;
  std::string address;  // the email or phone, frozen when the message was made
  SourceRef source;
  int64_t step = 0;
  int priority = 0;
  Timestamp send_at;
  MessageState state = MessageState::kQueued;
  int attempts = 0;
  int max_attempts = 5;
  std::string provider_id;
  std::string reason;  // why it failed, was skipped or is retried
  std::string client_key;
  Timestamp created_at;
  Timestamp updated_at;
  std::optional<Timestamp> last_attempt_at;
  std::optional<Timestamp> sent_at;
};

inline constexpr int kMaxMessageAttempts = 100;
inline constexpr size_t kMaxClientKeyBytes = 200;
inline constexpr size_t kMaxVariablesBytes = 64 * 1024;

// The timeline of a message: queued and sent (from its row), its recorded events in
// the order they arrived, then failed, skipped or cancelled (from its row).
std::vector<MessageEvent> Timeline(const Message& m, const std::vector<MessageEvent>& recorded);

// The idempotency key a provider sees: the same on every attempt. Campaign keys are
// those of the ledger before the outbox ("outflow-c<campaign>-r<contact>").
std::string MessageKey(const Message& m);

// The address a channel sends to, from a contact: empty with the reason when it has none.
struct ChannelAddress {
  std::string address;
  std::string missing;  // "no email address" ... when address is empty
};
ChannelAddress AddressFor(Channel channel, const Contact& c);

}  // namespace outflow
