// GroupCommitter: callers that arrive together share one commit (a group commit),
// so a store's rate is not one transaction per caller.
//
// A caller submits its item and waits. The first waiting caller with no commit in
// progress becomes the leader: it takes every queued item (at most `max_group`),
// passes them to `commit` on its own thread, hands each caller its result, and
// returns its own; a caller queued meanwhile leads the next group. No thread of
// its own and no added delay: a group is whatever queued during the previous
// commit, so a lone caller commits at once.
//
// `commit` gets the group's items in arrival order and returns one result per
// item, in the same order. It runs outside the lock, one group at a time.
// Thread-safe.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace outflow {

template <typename Item, typename Out>
class GroupCommitter {
 public:
  using CommitFn = std::function<std::vector<Out>(std::span<const Item* const> group)>;

  GroupCommitter(CommitFn commit, size_t max_group) : commit_(std::move(commit)), max_group_(max_group) {}

  Out Submit(const Item& item) {
    Slot me{&item, std::nullopt};
    std::unique_lock lock(mu_);
    queue_.push_back(&me);
    while (!me.result) {
      if (leading_) {
        done_.wait(lock);
        continue;
      }
      leading_ = true;
      const auto n = static_cast<ptrdiff_t>(std::min(queue_.size(), max_group_));
      std::vector<Slot*> group(queue_.begin(), queue_.begin() + n);
      queue_.erase(queue_.begin(), queue_.begin() + n);
      lock.unlock();
      std::vector<const Item*> items;
      items.reserve(group.size());
      for (const Slot* s : group) items.push_back(s->item);
      std::vector<Out> results = commit_(items);
      lock.lock();
      for (size_t i = 0; i < group.size(); ++i) group[i]->result = std::move(results[i]);
      ++stats_.groups;
      stats_.items += static_cast<int64_t>(group.size());
      leading_ = false;
      done_.notify_all();
    }
    return std::move(*me.result);
  }

  // Items waiting for the next group, and whether a group is being committed
  // (tests wait for a group to form).
  size_t queued() const {
    std::lock_guard lock(mu_);
    return queue_.size();
  }
  bool committing() const {
    std::lock_guard lock(mu_);
    return leading_;
  }
  // Groups committed so far, and the items they held.
  struct Stats {
    int64_t groups = 0;
    int64_t items = 0;
  };
  Stats stats() const {
    std::lock_guard lock(mu_);
    return stats_;
  }

 private:
  struct Slot {
    const Item* item;
    std::optional<Out> result;  // set under mu_
  };

  const CommitFn commit_;
  const size_t max_group_;
  mutable std::mutex mu_;
  std::condition_variable done_;
  std::vector<Slot*> queue_;  // GUARDED_BY(mu_)
  bool leading_ = false;      // GUARDED_BY(mu_): a group is being committed
  Stats stats_;               // GUARDED_BY(mu_)
};

}  // namespace outflow
