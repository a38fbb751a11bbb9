#include "codec/filter_json.h"

namespace outflow {

namespace json = boost::json;

Result<Filter> FilterFromJson(const json::value& v, std::string_view path) {
  std::string p(path);
  const json::object* o = v.if_object();
  if (o == nullptr) return Status::InvalidArgument(p + ": must be an object");
  Filter f;
  for (const char* group : {"all", "any"}) {
    if (const json::value* g = o->if_contains(group)) {
      if (o->size() != 1) return Status::InvalidArgument(p + ": a group holds only \"" + group + "\"");
      if (!g->is_array()) return Status::InvalidArgument(p + "." + group + ": must be an array");
      f.kind = std::string_view(group) == "all" ? Filter::Kind::kAll : Filter::Kind::kAny;
      const json::array& arr = g->as_array();
      for (size_t i = 0; i < arr.size(); ++i) {
        OUTFLOW_ASSIGN_OR_RETURN(Filter child, FilterFromJson(arr[i], p + "." + group + "[" + std::to_string(i) + "]"));
        f.children.push_back(std::move(child));
      }
      return f;
    }
  }
  f.kind = Filter::Kind::kCondition;
  bool has_op = false;
  for (const auto& [k, val] : *o) {
    if (k == "field") {
      if (!val.is_string()) return Status::InvalidArgument(p + ".field: must be a string");
      f.condition.field = std::string(val.as_string());
    } else if (k == "op") {
      if (!val.is_string()) return Status::InvalidArgument(p + ".op: must be a string");
      auto op = ParseFilterOp(val.as_string());
      if (!op) {
        return Status::InvalidArgument(p + ".op: unknown operator '" + std::string(val.as_string()) +
                                       "' (equals, not_equals, contains, starts_with, greater_than, less_than, in, "
                                       "empty, not_empty, before, after)");
      }
      f.condition.op = *op;
      has_op = true;
    } else if (k == "value" || k == "values") {
      auto scalar = [&](const json::value& x, const std::string& where) -> Result<std::string> {
        if (x.is_string()) return std::string(x.as_string());
        if (x.is_bool()) return std::string(x.as_bool() ? "true" : "false");
        if (x.is_number()) {
          double d = x.to_number<double>();
          if (d == static_cast<double>(static_cast<int64_t>(d))) return std::to_string(static_cast<int64_t>(d));
          return json::serialize(x);
        }
        return Status::InvalidArgument(where + ": must be a string, number or boolean");
      };
      if (k == "values") {
        if (!val.is_array()) return Status::InvalidArgument(p + ".values: must be an array");
        for (size_t i = 0; i < val.as_array().size(); ++i) {
          OUTFLOW_ASSIGN_OR_RETURN(std::string s, scalar(val.as_array()[i], p + ".values[" + std::to_string(i) + "]"));
          f.condition.values.push_back(std::move(s));
        }
      } else {
        OUTFLOW_ASSIGN_OR_RETURN(std::string s, scalar(val, p + ".value"));
        f.condition.values.push_back(std::move(s));
      }
    } else {
      return Status::InvalidArgument(p + "." + std::string(k) + ": unknown key (a condition has field, op, value or values; a group has all or any)");
    }
  }
  if (f.condition.field.empty()) return Status::InvalidArgument(p + ".field: is required");
  if (!has_op) return Status::InvalidArgument(p + ".op: is required");
  return f;
}

json::value FilterToJson(const Filter& f) {
  if (f.kind != Filter::Kind::kCondition) {
    json::array arr;
    for (const Filter& c : f.children) arr.push_back(FilterToJson(c));
    return json::object{{f.kind == Filter::Kind::kAll ? "all" : "any", std::move(arr)}};
  }
  json::object o{{"field", f.condition.field}, {"op", FilterOpName(f.condition.op)}};
  if (f.condition.op == FilterOp::kIn) {
    json::array vals;
    for (const auto& v : f.condition.values) vals.push_back(json::value(v));
    o["values"] = std::move(vals);
  } else if (!f.condition.values.empty()) {
    o["value"] = f.condition.values[0];
  }
  return o;
}

}  // namespace outflow
