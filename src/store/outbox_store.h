// OutboxStore: the outbox every message goes through, and its per-source counts
// (docs/sending.md). Producers insert messages; one send loop per account claims
// and records them.
//
// Contract (each point holds with several writers: no step relies on a single
// writer; every reservation and transition is one conditional statement):
// - Enqueue inserts messages in one transaction, all or nothing. A message whose
//   (source, contact, step) exists already, or a transactional message whose
//   client key exists for its account, is not inserted again: the existing one is
//   returned with `existing = true`. A message whose contact lacks the channel's
//   address is stored `failed` with the reason; an unsubscribed contact's is
//   stored `skipped` ("unsubscribed"). Unknown account, contact or template:
//   NotFound naming the field and the item's index; a template without a subject
//   for an email account: InvalidArgument, likewise. The source's counts row is
//   made on first use, active, at the message's priority.
// - Claim(account, now, limit, day, cap) marks up to `limit` due queued messages of
//   the account's active sources `sending` (attempts + 1) and returns them with
//   their contacts. Order: by priority; within one priority, sources take turns
//   (round robin by when each was last served), each source's messages by
//   (send_at, id). With a cap, the claim first reserves its count on the
//   account's `day` with a conditional update that never takes the day past the
//   cap, and gives back what it did not use; `cap_reached` says the cap cut it short.
//   A claimed message whose contact is unsubscribed is skipped, not returned.
//   Claim's `drained` and Record's result name the sources whose last pending
//   message the call settled (so that their producers can complete them).
// - Record applies outcomes of claimed messages in one transaction: only to a
//   message still `sending` at the attempt the outcome answers (a stale outcome is
//   ignored). Not attempted (claimed, never handed to the channel) goes back to
//   queued without counting the attempt (due at its retry_at when one is given: a
//   deferral), and gives back its reservation on the
//   day's cap. A message that would go back to queued (a retry, a give-back) whose
//   contact unsubscribed meanwhile is skipped instead.
// - RequeueSending puts the account's `sending` messages back to queued (their send
//   may have happened: the key lets a provider drop the repeat).
//   REQUIRES: the caller holds the account's send loop (no claim is in flight).
// - SetSourceState pauses, resumes or cancels a source; cancelling also cancels
//   its queued messages. RetryFailed puts a source's failed messages back to queued.
// - SkipContact skips ("unsubscribed", ...) every queued or deferred message of a contact.
// - Suppression: a message to a suppressed address is never sent. Enqueue stores it
//   `skipped`, Claim skips it instead of returning it, and a retry or give-back of
//   one skips it ("suppressed: <why>").
// - RecordEvent appends a recorded event (delivered, opened, clicked, bounced,
//   complained, unsubscribed) to a message's timeline in one transaction with what
//   it implies: the message's first event of a kind counts it once in its source's
//   engagement counts (a conditional update of the message row, so two callbacks
//   at once count it once); a click counts an open too when none came before it; a
//   permanent bounce or a complaint suppresses the message's address and skips the
//   contact's queued messages to it; an unsubscribe unsubscribes the contact and
//   skips its queued messages. Returns whether the event was the first of its kind.
//   NotFound for an unknown message, InvalidArgument for a kind that is not recorded.
// Thread-safe.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "domain/message.h"

namespace outflow {

struct EnqueuedMessage {
  Message message;
  bool existing = false;  // the producer (or caller's key) had made it before
};

struct ClaimedMessage {
  Message message;
  Contact contact;
};

struct OutboxClaim {
  std::vector<ClaimedMessage> messages;
  bool cap_reached = false;        // the daily cap stopped the claim short
  std::vector<SourceRef> drained;  // sources whose last pending message the claim skipped
};

struct MessageOutcome {
  MessageId id;
  int attempt = 0;                           // Message::attempts as claimed
  MessageState state = MessageState::kSent;  // sent, failed, skipped, or queued (retry at retry_at)
  std::string provider_id;
  std::string reason;
  Timestamp retry_at;       // queued again (or given back, when set): due then
  bool attempted = true;    // false: never handed to the channel (failed at render, skipped by a rule,
                            // given back): the attempt is not counted and the day's cap reservation returns
  bool count_send = false;  // sent: remember the send for the contact's frequency caps
};

// An address no message is sent to (docs/sending.md "Suppression").
struct Suppression {
  std::string address;
  std::string reason;                // "bounced: <detail>", "complained"
  std::optional<MessageId> message;  // the message whose event suppressed it
  Timestamp at;
};

struct MessageFilter {
  std::optional<MessageState> state;
  std::optional<AccountId> account;
  std::optional<ContactId> contact;
  std::optional<SourceRef> source;
  int64_t after_id = 0;  // paging: ids greater than this
  int limit = 100;
};

class OutboxStore {
 public:
  virtual ~OutboxStore() = default;

  // Producers (the transactional API; campaigns fan out inside their own store).
  virtual Result<std::vector<EnqueuedMessage>> Enqueue(std::span<const NewMessage> messages, Timestamp now) = 0;
  virtual Result<Message> Get(MessageId id) = 0;
  // Ordered by id.
  virtual Result<std::vector<Message>> List(const MessageFilter& f) = 0;
  virtual Result<MessageCounts> Counts(SourceRef source) = 0;

  // Sources.
  virtual Status SetSourceState(SourceRef source, SourceState state, Timestamp now) = 0;
  virtual Result<int64_t> RetryFailed(SourceRef source, Timestamp now) = 0;
  virtual Result<int64_t> SkipContact(ContactId contact, const std::string& reason, Timestamp now) = 0;

  // The send loop of one account.
  // Accounts with pending messages in an active source.
  virtual Result<std::vector<AccountId>> AccountsWithWork() = 0;
  virtual Result<OutboxClaim> Claim(AccountId account, Timestamp now, int limit, const std::string& day,
                                    std::optional<int64_t> daily_cap) = 0;
  virtual Result<std::vector<SourceRef>> Record(AccountId account, std::span<const MessageOutcome> outcomes,
                                                Timestamp now) = 0;
  virtual Result<int64_t> RequeueSending(AccountId account, Timestamp now) = 0;
  // The earliest send_at of a queued message in an active source of the account.
  virtual Result<std::optional<Timestamp>> NextDue(AccountId account) = 0;
  // Sends reserved on the account's local `day` so far.
  virtual Result<int64_t> DayCount(AccountId account, const std::string& day) = 0;
  // When the contact was sent to on `channel` since `since`, oldest first (only the
  // sends recorded with count_send; kept for 7 days).
  virtual Result<std::vector<Timestamp>> RecentSends(ContactId contact, Channel channel, Timestamp since) = 0;

  // Tracking and provider callbacks.
  virtual Result<bool> RecordEvent(const TrackingEvent& e) = 0;
  // A message's recorded events, oldest first.
  virtual Result<std::vector<MessageEvent>> Events(MessageId id) = 0;
  // The message an account's provider knows by `provider_id`; none when no message has it.
  virtual Result<std::optional<Message>> FindByProviderId(AccountId account, std::string_view provider_id) = 0;
  // Suppressed addresses after `after` (ascending), and lifting one (NotFound when not suppressed).
  virtual Result<std::vector<Suppression>> Suppressions(std::string_view after, int limit) = 0;
  virtual Status RemoveSuppression(std::string_view address) = 0;
};

}  // namespace outflow
