#include "sending/render.h"

#include <boost/json.hpp>

#include <charconv>

#include "domain/message.h"

namespace outflow {

namespace json = boost::json;

namespace {

std::string Number(double d) {
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, d);
  return ec == std::errc() ? std::string(buf, p) : std::to_string(d);
}

// A scalar JSON value as template text; nullopt for objects, arrays and null.
std::optional<std::string> ScalarText(const json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  if (v.is_int64()) return std::to_string(v.as_int64());
  if (v.is_uint64()) return std::to_string(v.as_uint64());
  if (v.is_double()) return Number(v.as_double());
  if (v.is_bool()) return std::string(v.as_bool() ? "true" : "false");
  return std::nullopt;
}

}  // namespace

TemplateValues ContactTemplateValues(const Contact& c) {
  TemplateValues v;
  auto put = [&](const char* name, const std::optional<std::string>& value) {
    if (value && !value->empty()) v.emplace(name, *value);
  };
  put("email", c.email);
  put("phone", c.phone);
  put("first_name", c.first_name);
  put("last_name", c.last_name);
  put("time_zone", c.time_zone);
  put("locale", c.locale);
  put("owner", c.owner);
  put("pipeline_stage", c.pipeline_stage);
  put("tier", c.tier);
  put("external_id", c.external_id);
  if (c.engagement_score) v.emplace("engagement_score", Number(*c.engagement_score));
  for (const auto& [name, value] : c.custom) {
    if (const auto* s = std::get_if<std::string>(&value)) {
      if (!s->empty()) v.emplace(name, *s);
    } else if (const auto* d = std::get_if<double>(&value)) {
      v.emplace(name, Number(*d));
    } else if (const auto* b = std::get_if<bool>(&value)) {
      v.emplace(name, *b ? "true" : "false");
    }
  }
  return v;
}

Status ValidateVariables(std::string_view variables_json, std::string_view field) {
  const std::string f(field);
  if (variables_json.size() > kMaxVariablesBytes) {
    return Status::InvalidArgument(f + ": at most " + std::to_string(kMaxVariablesBytes) + " bytes");
  }
  boost::system::error_code ec;
  json::value v = json::parse(variables_json, ec);
  if (ec || !v.is_object()) return Status::InvalidArgument(f + ": must be a JSON object");
  for (const auto& [name, value] : v.as_object()) {
    if (name.empty()) return Status::InvalidArgument(f + ": a variable name is empty");
    if (!ScalarText(value)) {
      return Status::InvalidArgument(f + "." + std::string(name.substr(0, 64)) +
                                     ": must be a string, a number or a boolean");
    }
  }
  return Status::Ok();
}

Result<TemplateValues> MessageTemplateValues(const Contact& c, std::string_view variables_json) {
  TemplateValues v = ContactTemplateValues(c);
  if (variables_json.empty()) return v;
  boost::system::error_code ec;
  json::value parsed = json::parse(variables_json, ec);
  if (ec || !parsed.is_object()) return Status::InvalidArgument("variables: not a JSON object");
  for (const auto& [name, value] : parsed.as_object()) {
    if (std::optional<std::string> text = ScalarText(value); text && !text->empty()) {
      v.insert_or_assign(std::string(kVariablePrefix) + std::string(name), std::move(*text));
    }
  }
  return v;
}

std::string DisplayName(const Contact& c) {
  std::string name = c.first_name.value_or("");
  if (c.last_name && !c.last_name->empty()) name += (name.empty() ? "" : " ") + *c.last_name;
  return name;
}

}  // namespace outflow
