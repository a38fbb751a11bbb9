#include "codec/contact_rules_json.h"

#include <boost/json.hpp>

namespace outflow {

namespace json = boost::json;

namespace {

Result<std::optional<int>> Cap(const json::object& o, std::string_view key, const std::string& field) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<int>();
  if (!v->is_int64() || v->as_int64() < 1 || v->as_int64() > 10000) {
    return Status::InvalidArgument(field + "." + std::string(key) + ": must be an integer from 1 to 10000");
  }
  return std::optional<int>(static_cast<int>(v->as_int64()));
}

Result<int> Minute(const json::object& o, std::string_view key, const std::string& field) {
  const json::value* v = o.if_contains(key);
  const std::string f = field + "." + std::string(key);
  if (v == nullptr || !v->is_string()) return Status::InvalidArgument(f + ": required, a time such as 21:00");
  return ParseLocalTime(std::string_view(v->as_string()), f);
}

Status KnownKeys(const json::object& o, std::initializer_list<std::string_view> known, const std::string& field) {
  for (const auto& [k, v] : o) {
    if (std::find(known.begin(), known.end(), std::string_view(k)) == known.end()) {
      return Status::InvalidArgument(field + "." + std::string(k.substr(0, 64)) + ": unknown field");
    }
  }
  return Status::Ok();
}

}  // namespace

json::value ContactRulesToJson(const ContactRules& r) {
  json::object o;
  if (r.capped()) {
    json::object cap;
    cap["per_day"] = r.per_day ? json::value(*r.per_day) : json::value(nullptr);
    cap["per_week"] = r.per_week ? json::value(*r.per_week) : json::value(nullptr);
    cap["over"] = r.skip_over_cap ? "skip" : "defer";
    o["frequency_cap"] = std::move(cap);
  } else {
    o["frequency_cap"] = nullptr;
  }
  if (r.quiet_hours) {
    o["quiet_hours"] = json::object{{"start", FormatLocalTime(r.quiet_hours->start_minute)},
                                    {"end", FormatLocalTime(r.quiet_hours->end_minute)}};
  } else {
    o["quiet_hours"] = nullptr;
  }
  return o;
}

Result<ContactRules> ContactRulesFromJson(const json::value& v, std::string_view field) {
  const std::string f(field);
  ContactRules r;
  if (v.is_null()) return r;
  if (!v.is_object()) return Status::InvalidArgument(f + ": must be a JSON object");
  const json::object& o = v.as_object();
  OUTFLOW_RETURN_IF_ERROR(KnownKeys(o, {"frequency_cap", "quiet_hours"}, f));
  if (const json::value* cap = o.if_contains("frequency_cap"); cap && !cap->is_null()) {
    const std::string cf = f + ".frequency_cap";
    if (!cap->is_object()) return Status::InvalidArgument(cf + ": must be a JSON object");
    OUTFLOW_RETURN_IF_ERROR(KnownKeys(cap->as_object(), {"per_day", "per_week", "over"}, cf));
    OUTFLOW_ASSIGN_OR_RETURN(r.per_day, Cap(cap->as_object(), "per_day", cf));
    OUTFLOW_ASSIGN_OR_RETURN(r.per_week, Cap(cap->as_object(), "per_week", cf));
    if (!r.capped()) return Status::InvalidArgument(cf + ": give per_day, per_week or both");
    if (const json::value* over = cap->as_object().if_contains("over"); over && !over->is_null()) {
      if (*over != "defer" && *over != "skip") return Status::InvalidArgument(cf + ".over: must be defer or skip");
      r.skip_over_cap = *over == "skip";
    }
  }
  if (const json::value* q = o.if_contains("quiet_hours"); q && !q->is_null()) {
    const std::string qf = f + ".quiet_hours";
    if (!q->is_object()) return Status::InvalidArgument(qf + ": must be a JSON object");
    OUTFLOW_RETURN_IF_ERROR(KnownKeys(q->as_object(), {"start", "end"}, qf));
    QuietHours h;
    OUTFLOW_ASSIGN_OR_RETURN(h.start_minute, Minute(q->as_object(), "start", qf));
    OUTFLOW_ASSIGN_OR_RETURN(h.end_minute, Minute(q->as_object(), "end", qf));
    r.quiet_hours = h;
  }
  OUTFLOW_RETURN_IF_ERROR(ValidateRules(r, field));
  return r;
}

std::string EncodeContactRules(const ContactRules& r) {
  return json::serialize(ContactRulesToJson(r));
}

ContactRules DecodeContactRules(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return {};
  Result<ContactRules> r = ContactRulesFromJson(v, "contact_rules");
  return r.ok() ? *r : ContactRules{};
}

}  // namespace outflow
