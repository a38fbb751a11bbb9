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

Result<EnqueuedMessage> GroupCommit::Enqueue(const NewMessage& m, Timestamp now) {
  Slot me{&m, now, std::nullopt};
  std::unique_lock lock(mu_);
  queue_.push_back(&me);
  while (!me.result) {
    if (leading_) {
      done_.wait(lock);
      continue;
    }
    leading_ = true;
    const size_t n = std::min(queue_.size(), max_group_);
    std::vector<Slot*> group(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
    lock.unlock();
    std::vector<Result<EnqueuedMessage>> results = Commit(group);
    lock.lock();
    for (size_t i = 0; i < group.size(); ++i) group[i]->result = std::move(results[i]);
    ++stats_.groups;
    stats_.messages += static_cast<int64_t>(group.size());
    leading_ = false;
    done_.notify_all();
  }
  return std::move(*me.result);
}

std::vector<Result<EnqueuedMessage>> GroupCommit::Commit(const std::vector<Slot*>& group) {
  std::vector<NewMessage> messages;
  messages.reserve(group.size());
  Timestamp now = group.front()->now;
  for (const Slot* s : group) {
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

size_t GroupCommit::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

bool GroupCommit::committing() const {
  std::lock_guard lock(mu_);
  return leading_;
}

GroupCommit::Stats GroupCommit::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace outflow
