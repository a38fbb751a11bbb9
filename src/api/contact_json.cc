#include "api/contact_json.h"

#include "api/http_util.h"

namespace outflow::api {

namespace json = boost::json;

namespace {


std::string Name(std::string_view prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : std::string(prefix) + "." + std::string(key);
}

Status SetText(const json::value& v, std::optional<std::string>& out, std::string_view prefix, std::string_view key) {
  if (v.is_null()) {
    out.reset();
    return Status::Ok();
  }
  if (!v.is_string()) return Status::InvalidArgument(Name(prefix, key) + ": must be a string or null");
  out = std::string(v.as_string());
  return Status::Ok();
}

json::value Opt(const std::optional<std::string>& s) { return s ? json::value(*s) : json::value(nullptr); }

}  // namespace

Status ApplyContactJson(const json::object& o, Contact& c, std::string_view prefix) {
  struct TextField {
    std::string_view key;
    std::optional<std::string> Contact::*member;
  };
  static const TextField kText[] = {
      {"external_id", &Contact::external_id}, {"email", &Contact::email},
      {"phone", &Contact::phone},             {"first_name", &Contact::first_name},
      {"last_name", &Contact::last_name},     {"time_zone", &Contact::time_zone},
      {"locale", &Contact::locale},           {"owner", &Contact::owner},
      {"pipeline_stage", &Contact::pipeline_stage}, {"tier", &Contact::tier},
  };
  for (const auto& [key, v] : o) {
    bool done = false;
    for (const TextField& t : kText) {
      if (key == t.key) {
        OUTFLOW_RETURN_IF_ERROR(SetText(v, c.*t.member, prefix, key));
        done = true;
        break;
      }
    }
    if (done) continue;
    if (key == "engagement_score") {
      if (v.is_null()) {
        c.engagement_score.reset();
      } else if (v.is_number()) {
        c.engagement_score = v.to_number<double>();
      } else {
        return Status::InvalidArgument(Name(prefix, key) + ": must be a number or null");
      }
    } else if (key == "status") {
      if (v == "live") c.status = ContactStatus::kLive;
      else if (v == "staged") c.status = ContactStatus::kStaged;
      else return Status::InvalidArgument(Name(prefix, key) + ": must be \"live\" or \"staged\"");
    } else if (key == "custom") {
      if (!v.is_object()) return Status::InvalidArgument(Name(prefix, key) + ": must be an object");
      for (const auto& [name, cv] : v.as_object()) {
        std::string n(name);
        if (cv.is_null()) c.custom.erase(n);
        else if (cv.is_string()) c.custom[n] = std::string(cv.as_string());
        else if (cv.is_bool()) c.custom[n] = cv.as_bool();
        else if (cv.is_number()) c.custom[n] = cv.to_number<double>();
        else return Status::InvalidArgument(Name(prefix, "custom." + n) + ": must be a string, number, boolean or null");
      }
    } else if (key == "id" || key == "created_at" || key == "updated_at") {
      return Status::InvalidArgument(Name(prefix, key) + ": is set by Outflow and cannot be written");
    } else {
      return Status::InvalidArgument(Name(prefix, key) +
                                     ": unknown field (known: external_id, email, phone, first_name, last_name, "
                                     "time_zone, locale, owner, pipeline_stage, tier, engagement_score, status, custom)");
    }
  }
  return Status::Ok();
}

json::object ContactToJson(const Contact& c) {
  json::object o;
  o["id"] = c.id.value();
  o["external_id"] = Opt(c.external_id);
  o["email"] = Opt(c.email);
  o["phone"] = Opt(c.phone);
  o["first_name"] = Opt(c.first_name);
  o["last_name"] = Opt(c.last_name);
  o["time_zone"] = Opt(c.time_zone);
  o["locale"] = Opt(c.locale);
  o["owner"] = Opt(c.owner);
  o["pipeline_stage"] = Opt(c.pipeline_stage);
  o["tier"] = Opt(c.tier);
  o["engagement_score"] = c.engagement_score ? JsonNumber(*c.engagement_score) : json::value(nullptr);
  json::object custom;
  for (const auto& [k, v] : c.custom) {
    if (auto* s = std::get_if<std::string>(&v)) custom[k] = *s;
    else if (auto* d = std::get_if<double>(&v)) custom[k] = JsonNumber(*d);
    else custom[k] = std::get<bool>(v);
  }
  o["custom"] = std::move(custom);
  o["status"] = ContactStatusName(c.status);
  o["created_at"] = FormatRfc3339(c.created_at);
  o["updated_at"] = FormatRfc3339(c.updated_at);
  return o;
}

json::object FieldToJson(const FieldDefinition& f) {
  return {{"name", f.name}, {"type", FieldTypeName(f.type)}, {"label", f.label},
          {"created_at", FormatRfc3339(f.created_at)}};
}

}  // namespace outflow::api
