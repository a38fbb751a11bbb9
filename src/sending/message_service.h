// MessageService: transactional sends as the REST API takes them (POST
// /v1/messages, docs/sending.md), and reading any message of the outbox.
//
// A send names an account, a contact (by id, email or phone), a template and its
// variables, optionally a send time and the caller's idempotency key. It becomes
// one outbox message of the account's transactional source (priority 0: before
// journeys, schedules and campaigns) and wakes the account's send loop; it goes
// through the same limits, rules and ledger as every other message. The same key
// twice returns the first message (`existing`). Single sends that arrive together
// share one transaction (GroupCommit). Errors name the field: a bad
// value is InvalidArgument; an unknown account, contact or template NotFound.
// Thread-safe.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/clock.h"
#include "sending/group_commit.h"
#include "sending/sender.h"
#include "store/campaign_store.h"
#include "store/contact_store.h"
#include "store/outbox_store.h"

namespace outflow {

struct SendRequest {
  AccountId account;
  std::optional<ContactId> contact_id;
  std::optional<std::string> email;
  std::optional<std::string> phone;
  TemplateId template_id;
  std::string variables_json;  // a JSON object, or empty
  std::optional<Timestamp> send_at;
  std::string idempotency_key;
  std::optional<int> max_attempts;
};

inline constexpr size_t kMaxSendBatch = 1000;
// A send time further ahead than this is refused (a typo, not a plan).
inline constexpr Duration kMaxSendAhead = std::chrono::hours(24 * 366);

class MessageService {
 public:
  // `sender` may be null (offline tools): messages then wait for a daemon.
  MessageService(OutboxStore& outbox, CampaignStore& accounts, ContactStore& contacts, Sender* sender, Clock& clock);

  Result<EnqueuedMessage> Send(const SendRequest& r);
  // Each request checked on its own (an error names "messages[i].<field>"); the
  // valid ones are stored in one transaction. One result per request, in order.
  Result<std::vector<Result<EnqueuedMessage>>> SendBatch(std::span<const SendRequest> requests);

  Result<Message> Get(MessageId id) { return outbox_.Get(id); }
  Result<std::vector<Message>> List(const MessageFilter& f) { return outbox_.List(f); }
  // The message's timeline: its own state changes and its recorded events, by time.
  Result<std::vector<MessageEvent>> TimelineOf(const Message& m) {
    OUTFLOW_ASSIGN_OR_RETURN(std::vector<MessageEvent> recorded, outbox_.Events(m.id));
    return Timeline(m, recorded);
  }

 private:
  // Checks a request's own fields and resolves its contact by email or phone;
  // `prefix` goes before field names. The references are checked by the store.
  Result<NewMessage> Prepare(const SendRequest& r, const std::string& prefix, Timestamp now);
  // The account, template and contact a batch item names, read before the batch's
  // transaction; `seen` keeps each account's channel and whether each template lacks
  // a subject (none: it does not exist).
  struct References {
    std::map<AccountId, std::optional<Channel>> accounts;
    std::map<TemplateId, std::optional<bool>> templates;
  };
  Status CheckReferences(const SendRequest& r, const std::string& prefix, References& seen);
  Result<ContactId> ResolveContact(const SendRequest& r, const std::string& prefix);

  OutboxStore& outbox_;
  GroupCommit group_;  // single sends
  CampaignStore& accounts_;
  ContactStore& contacts_;
  Sender* sender_;
  Clock& clock_;
};

}  // namespace outflow
