#include "domain/segment.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace outflow {

namespace {

constexpr FilterOp kOps[] = {FilterOp::kEquals,      FilterOp::kNotEquals, FilterOp::kContains, FilterOp::kStartsWith,
                             FilterOp::kGreaterThan, FilterOp::kLessThan,  FilterOp::kIn,       FilterOp::kEmpty,
                             FilterOp::kNotEmpty,    FilterOp::kBefore,    FilterOp::kAfter};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A contact's value for a field, as text, or nullopt when unset.
struct Value {
  std::optional<std::string> text;
  std::optional<double> number;
  bool is_time = false;  // created_at/updated_at/date/datetime fields: compare as times
};

Value Get(const Contact& c, const std::string& field) {
  auto opt = [](const std::optional<std::string>& s) { return Value{s, std::nullopt, false}; };
  if (field == "email") return opt(c.email ? std::optional<std::string>(NormalizeEmail(*c.email)) : std::nullopt);
  if (field == "phone") return opt(c.phone);
  if (field == "first_name") return opt(c.first_name);
  if (field == "last_name") return opt(c.last_name);
  if (field == "time_zone") return opt(c.time_zone);
  if (field == "locale") return opt(c.locale);
  if (field == "owner") return opt(c.owner);
  if (field == "pipeline_stage") return opt(c.pipeline_stage);
  if (field == "tier") return opt(c.tier);
  if (field == "external_id") return opt(c.external_id);
  if (field == "engagement_score") {
    if (!c.engagement_score) return {};
    return {std::to_string(*c.engagement_score), c.engagement_score, false};
  }
  if (field == "created_at") return {FormatRfc3339(c.created_at), std::nullopt, true};
  if (field == "updated_at") return {FormatRfc3339(c.updated_at), std::nullopt, true};
  auto it = c.custom.find(field);
  if (it == c.custom.end()) return {};
  if (auto* d = std::get_if<double>(&it->second)) return {std::to_string(*d), *d, false};
  if (auto* b = std::get_if<bool>(&it->second)) return {*b ? "true" : "false", std::nullopt, false};
  const std::string& s = std::get<std::string>(it->second);
  // dates and datetimes are stored sortable; treat anything shaped like one as a time
  bool looks_time = s.size() >= 10 && s[4] == '-' && s[7] == '-';
  return {s, std::nullopt, looks_time};
}

std::optional<double> Number(const std::string& s) {
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(d)) return std::nullopt;
  return d;
}

// Compares a contact value with a filter value: <0, 0, >0.
int Compare(const Value& v, const std::string& want, Timestamp now) {
  if (v.number) {
    if (auto w = Number(want)) return *v.number < *w ? -1 : *v.number > *w ? 1 : 0;
  }
  if (v.is_time) {
    Result<Timestamp> w = ResolveDate(want, now);
    Result<Timestamp> have = v.text->size() == 10 ? ParseRfc3339(*v.text + "T00:00:00Z") : ParseRfc3339(*v.text);
    if (w.ok() && have.ok()) return *have < *w ? -1 : *have > *w ? 1 : 0;
  }
  return v.text->compare(want) < 0 ? -1 : v.text->compare(want) > 0 ? 1 : 0;
}

bool Eval(const Condition& c, const Contact& contact, Timestamp now) {
  Value v = Get(contact, c.field);
  const bool set = v.text.has_value() && !v.text->empty();
  switch (c.op) {
    case FilterOp::kEmpty: return !set;
    case FilterOp::kNotEmpty: return set;
    default: break;
  }
  if (!set) return c.op == FilterOp::kNotEquals;
  const std::string& want = c.values.empty() ? std::string() : c.values[0];
  switch (c.op) {
    case FilterOp::kEquals: return v.number || v.is_time ? Compare(v, want, now) == 0 : Lower(*v.text) == Lower(want);
    case FilterOp::kNotEquals:
      return v.number || v.is_time ? Compare(v, want, now) != 0 : Lower(*v.text) != Lower(want);
    case FilterOp::kContains: return Lower(*v.text).find(Lower(want)) != std::string::npos;
    case FilterOp::kStartsWith: return Lower(*v.text).rfind(Lower(want), 0) == 0;
    case FilterOp::kGreaterThan:
    case FilterOp::kAfter: return Compare(v, want, now) > 0;
    case FilterOp::kLessThan:
    case FilterOp::kBefore: return Compare(v, want, now) < 0;
    case FilterOp::kIn: {
      std::string have = Lower(*v.text);
      for (const auto& x : c.values) {
        if ((v.number && Compare(v, x, now) == 0) || have == Lower(x)) return true;
      }
      return false;
    }
    default: return false;
  }
}

}  // namespace

std::string_view SegmentKindName(SegmentKind k) { return k == SegmentKind::kStatic ? "static" : "dynamic"; }

std::string_view FilterOpName(FilterOp op) {
  switch (op) {
    case FilterOp::kEquals: return "equals";
    case FilterOp::kNotEquals: return "not_equals";
    case FilterOp::kContains: return "contains";
    case FilterOp::kStartsWith: return "starts_with";
    case FilterOp::kGreaterThan: return "greater_than";
    case FilterOp::kLessThan: return "less_than";
    case FilterOp::kIn: return "in";
    case FilterOp::kEmpty: return "empty";
    case FilterOp::kNotEmpty: return "not_empty";
    case FilterOp::kBefore: return "before";
    case FilterOp::kAfter: return "after";
  }
  return "equals";
}

std::optional<FilterOp> ParseFilterOp(std::string_view name) {
  for (FilterOp op : kOps) {
    if (FilterOpName(op) == name) return op;
  }
  return std::nullopt;
}

Result<Timestamp> ResolveDate(std::string_view text, Timestamp now) {
  std::string t = Lower(text);
  if (t == "now") return now;
  if (t == "today") {
    int64_t day = 86'400'000'000;
    int64_t us = ToMicros(now);
    return FromMicros(us - ((us % day) + day) % day);
  }
  if (t.size() == 10) {
    if (Result<Timestamp> d = ParseRfc3339(t + "T00:00:00Z"); d.ok()) return d;
  }
  if (Result<Timestamp> d = ParseRfc3339(text); d.ok()) return d;
  // "N unit(s) ago" / "N unit(s) from now"
  char* end = nullptr;
  long long n = std::strtoll(t.c_str(), &end, 10);
  std::string rest(end);
  while (!rest.empty() && rest.front() == ' ') rest.erase(rest.begin());
  while (!rest.empty() && rest.back() == ' ') rest.pop_back();
  auto unit_len = [&](std::string_view u) -> std::optional<int64_t> {
    if (u == "hour" || u == "hours") return 3600;
    if (u == "day" || u == "days") return 86400;
    if (u == "week" || u == "weeks") return 7 * 86400;
    return std::nullopt;
  };
  for (std::string_view suffix : {std::string_view(" ago"), std::string_view(" from now")}) {
    if (end != t.c_str() && n >= 0 && rest.size() > suffix.size() && rest.ends_with(suffix)) {
      std::string unit = rest.substr(0, rest.size() - suffix.size());
      auto secs = unit_len(unit);
      if (!secs) break;
      Duration d = std::chrono::seconds(n * *secs);
      return suffix == " ago" ? now - d : now + d;
    }
  }
  return Status::InvalidArgument("'" + std::string(text.substr(0, 40)) +
                                 "' is not a date (YYYY-MM-DD, an RFC 3339 time, now, today, or N hours/days/weeks ago / from now)");
}

Status ValidateSegmentName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) return Status::InvalidArgument("name: must be 1 to 255 bytes");
  return Status::Ok();
}

Status ValidateFilter(const Filter& f, const std::map<std::string, FieldDefinition, std::less<>>& defs,
                      std::string_view path) {
  std::string p(path);
  if (f.kind != Filter::Kind::kCondition) {
    if (f.children.empty()) return Status::InvalidArgument(p + ": a group needs at least one condition");
    const char* name = f.kind == Filter::Kind::kAll ? "all" : "any";
    for (size_t i = 0; i < f.children.size(); ++i) {
      OUTFLOW_RETURN_IF_ERROR(ValidateFilter(f.children[i], defs, p + "." + name + "[" + std::to_string(i) + "]"));
    }
    return Status::Ok();
  }
  const Condition& c = f.condition;
  bool known = (IsStandardContactField(c.field) && c.field != "id" && c.field != "status") || defs.contains(c.field);
  if (!known) return Status::InvalidArgument(p + ".field: unknown field '" + c.field + "'");
  const bool needs_none = c.op == FilterOp::kEmpty || c.op == FilterOp::kNotEmpty;
  if (needs_none && !c.values.empty()) return Status::InvalidArgument(p + ".value: " + std::string(FilterOpName(c.op)) + " takes no value");
  if (!needs_none && c.values.empty()) return Status::InvalidArgument(p + ".value: is required");
  if (c.op != FilterOp::kIn && c.values.size() > 1) return Status::InvalidArgument(p + ".values: only 'in' takes a list");
  if (c.op == FilterOp::kBefore || c.op == FilterOp::kAfter) {
    Result<Timestamp> d = ResolveDate(c.values[0], Timestamp());
    if (!d.ok()) return d.status().WithContext(p + ".value");
  }
  return Status::Ok();
}

bool UsesRelativeTime(const Filter& f) {
  if (f.kind != Filter::Kind::kCondition) {
    return std::any_of(f.children.begin(), f.children.end(), [](const Filter& x) { return UsesRelativeTime(x); });
  }
  for (const std::string& v : f.condition.values) {
    std::string t = Lower(v);
    if (t == "now" || t == "today" || t.ends_with(" ago") || t.ends_with(" from now")) return true;
  }
  return false;
}

bool Matches(const Filter& f, const Contact& c, Timestamp now) {
  if (c.status != ContactStatus::kLive) return false;
  switch (f.kind) {
    case Filter::Kind::kAll:
      return std::all_of(f.children.begin(), f.children.end(), [&](const Filter& x) { return Matches(x, c, now); });
    case Filter::Kind::kAny:
      return std::any_of(f.children.begin(), f.children.end(), [&](const Filter& x) { return Matches(x, c, now); });
    case Filter::Kind::kCondition: return Eval(f.condition, c, now);
  }
  return false;
}

}  // namespace outflow
