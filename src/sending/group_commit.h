// GroupCommit: single sends that arrive at the same time share one outbox
// transaction (a group commit), so the API's rate is not one transaction per
// request (docs/sending.md "Transactional sends").
//
// A caller queues its message and waits. The first waiting caller with no commit
// in progress becomes the leader: it takes every queued message (at most
// `max_group`), stores them with one OutboxStore::Enqueue, hands each caller its
// result, and returns its own; a caller queued meanwhile leads the next group. No
// thread of its own and no added delay: a group is whatever queued during the
// previous commit, so a lone request commits at once.
//
// All or nothing per caller, as if alone: Enqueue stores a group in one
// transaction, all or nothing, so when a group fails each of its messages is tried
// again alone, and only the ones that fail alone get an error (naming the field as
// item 0). Two callers with the same idempotency key in one group get the same
// message (the second sees the first's row in the transaction).
// Thread-safe.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "base/group_committer.h"
#include "store/outbox_store.h"

namespace outflow {

class GroupCommit {
 public:
  explicit GroupCommit(OutboxStore& outbox, size_t max_group = 256);

  Result<EnqueuedMessage> Enqueue(const NewMessage& m, Timestamp now);

  // Messages waiting for the next group, and whether a group is being committed
  // (tests wait for a group to form).
  size_t queued() const { return committer_.queued(); }
  bool committing() const { return committer_.committing(); }
  // Groups committed so far, and the messages they held.
  struct Stats {
    int64_t groups = 0;
    int64_t messages = 0;
  };
  Stats stats() const {
    auto s = committer_.stats();
    return {s.groups, s.items};
  }

 private:
  struct Pending {
    const NewMessage* message;
    Timestamp now;
  };
  // Stores the group; one result per message, in order.
  std::vector<Result<EnqueuedMessage>> Commit(std::span<const Pending* const> group);

  OutboxStore& outbox_;
  GroupCommitter<Pending, Result<EnqueuedMessage>> committer_;
};

}  // namespace outflow
