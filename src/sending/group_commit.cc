#include "sending/group_commit.h"

#include <algorithm>
#include <span>
#include <string>

namespace outflow {

namespace {

constexpr std::string_view kItemZero = "messages[0].";

// A single message's error, without the batch's "messages[0]." prefix.
Status AsSingle(const Status& st) {
  std::string msg = st.message();
  if (msg.starts_with(kItemZero)) msg.erase(0, kItemZero.size());
  return Status(st.code(), std::move(msg));
}

}  // namespace

GroupCommit::GroupCommit(OutboxStore& outbox, size_t max_group)
    : outbox_(outbox), committer_([this](std::span<const Pending* const> g) { return Commit(g); }, max_group) {}

Result<EnqueuedMessage> GroupCommit::Enqueue(const NewMessage& m, Timestamp now) {
  return committer_.Submit(Pending{&m, now});
}

std::vector<Result<EnqueuedMessage>> GroupCommit::Commit(std::span<const Pending* const> group) {
  std::vector<NewMessage> messages;
  messages.reserve(group.size());
  Timestamp now = group.front()->now;
  for (const Pending* s : group) {
    messages.push_back(*s->message);
    now = std::max(now, s->now);
  }
  std::vector<Result<EnqueuedMessage>> out;
  out.reserve(group.size());
  if (group.size() > 1) {
    Result<std::vector<EnqueuedMessage>> made = outbox_.Enqueue(messages, now);
    if (made.ok()) {
      for (EnqueuedMessage& e : *made) out.emplace_back(std::move(e));
      return out;
    }
  }
  // Alone (or again alone after the group failed): each gets its own answer.
  for (size_t i = 0; i < messages.size(); ++i) {
    Result<std::vector<EnqueuedMessage>> made = outbox_.Enqueue(std::span(&messages[i], 1), group[i]->now);
    if (made.ok()) {
      out.emplace_back(std::move(made->front()));
    } else {
      out.emplace_back(AsSingle(made.status()));
    }
  }
  return out;
}

}  // namespace outflow
