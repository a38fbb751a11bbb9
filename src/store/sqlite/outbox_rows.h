// Outbox rows on a connection inside a transaction, shared by the outbox store and
// the producers whose own change inserts messages in the same transaction (a
// campaign's fan-out). Schema: docs/schema.md, migration 8.
#pragma once

#include "domain/message.h"
#include "store/sqlite/db.h"

namespace outflow::sqlite {

// The columns ReadMessage expects, in order (prefix them with "m." where joined).
inline constexpr std::string_view kMessageColumns =
    "id, account_id, contact_id, template_id, variables, address, source_kind, source_id, step, priority, send_at, "
    "state, attempts, max_attempts, provider_id, reason, client_key, created_at, updated_at, last_attempt_at, sent_at";
// Corruption for a state or source kind this build does not know.
Result<Message> ReadMessage(const Stmt& s);

// Changes to one source's counts, applied at once by AddSourceCounts.
struct SourceDelta {
  int64_t total = 0, pending = 0, sent = 0, failed = 0, skipped = 0, cancelled = 0;
  bool empty() const { return !total && !pending && !sent && !failed && !skipped && !cancelled; }
};

// Adds `d` to the source's counts, making its row (active, at `priority`) on first use.
// Returns the pending count after the change.
Result<int64_t> AddSourceCounts(Connection& c, AccountId account, SourceRef source, int priority, const SourceDelta& d,
                                Timestamp now);

// A source's counts (zero for a source with no messages yet).
Result<MessageCounts> SourceCounts(Connection& c, SourceRef source);

// Skips the queued and deferred messages of a contact with `reason`, keeping counts;
// with an `address`, only those to it.
Result<int64_t> SkipContactMessages(Connection& c, ContactId contact, const std::string& reason, Timestamp now,
                                    std::string_view address = {});

// Why no message may go to `address` ("suppressed: bounced: ..."); none when it may.
Result<std::optional<std::string>> SuppressedReason(Connection& c, std::string_view address);

// Pauses, resumes or cancels a source (a cancelled one stays cancelled); cancelling
// also cancels its queued and deferred messages, keeping counts.
Status SetSourceStateOn(Connection& c, SourceRef source, SourceState state, Timestamp now);

// Puts a source's failed messages (those with an address) back to queued, due now,
// Returns how many.
Result<int64_t> RetrySourceFailed(Connection& c, SourceRef source, Timestamp now);

}  // namespace outflow::sqlite
