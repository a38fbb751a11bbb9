// StrongId<Tag>: an integer id that cannot be mixed up with another kind of id.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace outflow {

template <typename Tag>
class StrongId {
 public:
  constexpr StrongId() = default;
  constexpr explicit StrongId(int64_t v) : value_(v) {}
  constexpr int64_t value() const { return value_; }
  constexpr bool valid() const { return value_ > 0; }
  auto operator<=>(const StrongId&) const = default;

 private:
  int64_t value_ = 0;
};

}  // namespace outflow

template <typename Tag>
struct std::hash<outflow::StrongId<Tag>> {
  size_t operator()(const outflow::StrongId<Tag>& id) const noexcept { return std::hash<int64_t>{}(id.value()); }
};
