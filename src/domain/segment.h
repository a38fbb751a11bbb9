// Segments: named sets of contacts. A static segment's members are added and
// removed explicitly; a dynamic segment's members are the live contacts its
// filter matches, kept up to date on every contact write (docs/segments.md).
//
// Filters are trees: {"all": [...]} and {"any": [...]} groups of conditions
// {"field", "op", "value" | "values"}. Pure: evaluation needs only the contact
// and the current time (for relative dates such as "30 days ago").
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/strong_id.h"
#include "base/time.h"
#include "domain/contact.h"

namespace outflow {

struct SegmentIdTag {};
using SegmentId = StrongId<SegmentIdTag>;

enum class SegmentKind { kStatic, kDynamic };
std::string_view SegmentKindName(SegmentKind k);

enum class FilterOp {
  kEquals, kNotEquals, kContains, kStartsWith, kGreaterThan, kLessThan, kIn, kEmpty, kNotEmpty, kBefore, kAfter
};
std::string_view FilterOpName(FilterOp op);
std::optional<FilterOp> ParseFilterOp(std::string_view name);

struct Condition {
  std::string field;
  FilterOp op = FilterOp::kEquals;
  std::vector<std::string> values;  // one value, or the list for kIn; none for kEmpty/kNotEmpty
};

struct Filter {
  enum class Kind { kAll, kAny, kCondition };
  Kind kind = Kind::kAll;
  std::vector<Filter> children;  // kAll, kAny
  Condition condition;           // kCondition
};

struct Segment {
  SegmentId id;
  std::string name;
  SegmentKind kind = SegmentKind::kStatic;
  std::optional<Filter> filter;  // dynamic only
  int64_t member_count = 0;
  // Dynamic only. filling: the first pass over the contacts has not finished, so
  // the members are incomplete (campaigns wait for it). refreshing: a re-evaluation
  // pass is under way (each member is as of the pass or as of its last write).
  bool filling = false;
  bool refreshing = false;
  Timestamp created_at;
  Timestamp updated_at;
};

// Checks fields (standard or defined custom ones), operators and values; messages
// name the path ("filter.all[2].value").
Status ValidateFilter(const Filter& f, const std::map<std::string, FieldDefinition, std::less<>>& defs,
                      std::string_view path = "filter");
Status ValidateSegmentName(std::string_view name);

// True when the filter compares with a time relative to now ("30 days ago",
// "today"): its membership changes as time passes, not only on contact writes.
bool UsesRelativeTime(const Filter& f);

// True when `c` matches. Staged contacts match nothing: they are not live yet.
bool Matches(const Filter& f, const Contact& c, Timestamp now);

// "2026-11-24", an RFC 3339 time, "now", "today", "N days ago", "N days from now"
// (also hours, weeks): the instant it means at `now`.
Result<Timestamp> ResolveDate(std::string_view text, Timestamp now);

}  // namespace outflow
