#include "ingest/column_mapping.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "ingest/csv_reader.h"

namespace outflow {

namespace {

// Common spellings of the standard fields in exported files, by normalised key.
const std::map<std::string, std::string>& Aliases() {
  static const std::map<std::string, std::string> kAliases = {
      {"email", "email"},           {"e_mail", "email"},           {"email_address", "email"},
      {"e_mail_address", "email"},  {"mail", "email"},             {"phone", "phone"},
      {"phone_number", "phone"},    {"mobile", "phone"},           {"mobile_phone", "phone"},
      {"telephone", "phone"},       {"tel", "phone"},              {"first_name", "first_name"},
      {"firstname", "first_name"},  {"given_name", "first_name"},  {"forename", "first_name"},
      {"last_name", "last_name"},   {"lastname", "last_name"},     {"surname", "last_name"},
      {"family_name", "last_name"}, {"time_zone", "time_zone"},    {"timezone", "time_zone"},
      {"tz", "time_zone"},          {"locale", "locale"},          {"language", "locale"},
      {"owner", "owner"},           {"pipeline_stage", "pipeline_stage"}, {"stage", "pipeline_stage"},
      {"tier", "tier"},             {"plan", "tier"},              {"engagement_score", "engagement_score"},
      {"score", "engagement_score"}, {"external_id", "external_id"}, {"id", "external_id"},
  };
  return kAliases;
}

bool Writable(std::string_view f) {
  return IsStandardContactField(f) && f != "id" && f != "status" && f != "created_at" && f != "updated_at";
}

}  // namespace

Result<ColumnMapping> BuildColumnMapping(const std::vector<std::string>& header, const ImportOptions& options,
                                         const std::map<std::string, FieldDefinition, std::less<>>& defs) {
  ColumnMapping m;
  m.fields.assign(header.size(), "");
  for (const auto& [column, field] : options.mapping) {
    if (std::find(header.begin(), header.end(), column) == header.end()) {
      return Status::InvalidArgument("mapping: the file has no column '" + column + "'");
    }
  }
  std::set<std::string> used;
  for (size_t i = 0; i < header.size(); ++i) {
    const std::string& name = header[i];
    std::string col = "column " + std::to_string(i + 1) + " '" + name + "'";
    auto explicit_it = options.mapping.find(name);
    std::string field;
    if (explicit_it != options.mapping.end()) {
      field = explicit_it->second;
      if (!field.empty() && !Writable(field) && !defs.contains(field)) {
        return Status::InvalidArgument("mapping: " + col + " maps to unknown field '" + field +
                                       "' (a standard field, or a custom field defined first)");
      }
    } else {
      std::string key = NormaliseHeaderKey(name);
      if (key == "segment_name") {
        m.fields[i] = std::string(kSegmentNameField);  // membership, not a contact field
        continue;
      }
      auto alias = Aliases().find(key);
      if (alias != Aliases().end()) {
        field = alias->second;
      } else if (defs.contains(key)) {
        field = key;
      } else if (options.create_fields && ValidateFieldName(key, "column").ok()) {
        field = key;
        m.to_create.push_back({key, FieldType::kText, name, {}});
      }
    }
    if (field.empty()) continue;
    if (!used.insert(field).second) {
      return Status::InvalidArgument("mapping: " + col + " maps to field '" + field +
                                     "', which another column already fills");
    }
    m.fields[i] = field;
  }
  return m;
}

Result<Contact> RowToContact(std::span<const std::string_view> fields, const std::vector<std::string>& header,
                             const ColumnMapping& mapping, const ImportOptions& options,
                             const std::map<std::string, FieldDefinition, std::less<>>& defs, ImportRowError& error) {
  Contact c;
  c.status = options.staging ? ContactStatus::kStaged : ContactStatus::kLive;
  for (size_t i = 0; i < fields.size() && i < mapping.fields.size(); ++i) {
    const std::string& f = mapping.fields[i];
    std::string_view cell = fields[i];
    while (!cell.empty() && (cell.front() == ' ' || cell.front() == '\t')) cell.remove_prefix(1);
    while (!cell.empty() && (cell.back() == ' ' || cell.back() == '\t')) cell.remove_suffix(1);
    if (f.empty() || cell.empty() || f == kSegmentNameField) continue;  // a blank cell sets nothing
    std::string v(cell);
    auto set = [&](std::optional<std::string> Contact::*member) { c.*member = v; };
    if (f == "email") set(&Contact::email);
    else if (f == "phone") set(&Contact::phone);
    else if (f == "first_name") set(&Contact::first_name);
    else if (f == "last_name") set(&Contact::last_name);
    else if (f == "time_zone") set(&Contact::time_zone);
    else if (f == "locale") set(&Contact::locale);
    else if (f == "owner") set(&Contact::owner);
    else if (f == "pipeline_stage") set(&Contact::pipeline_stage);
    else if (f == "tier") set(&Contact::tier);
    else if (f == "external_id") set(&Contact::external_id);
    else if (f == "engagement_score") {
      char* end = nullptr;
      double d = std::strtod(v.c_str(), &end);
      if (end != v.c_str() + v.size() || !std::isfinite(d)) {
        error = {0, header[i], v, "not a number"};
        return Status::InvalidArgument(header[i] + ": '" + v + "' is not a number");
      }
      c.engagement_score = d;
    } else {
      auto def = defs.find(f);
      if (def == defs.end()) {
        c.custom[f] = v;  // defined by this import (create_fields): text
        continue;
      }
      Result<FieldValue> fv = ParseFieldValue(def->second, v, header[i]);
      if (!fv.ok()) {
        error = {0, header[i], v, fv.status().message()};
        return fv.status();
      }
      c.custom[f] = std::move(fv).value();
    }
  }
  if (!c.owner && options.owner) c.owner = options.owner;
  return c;
}

}  // namespace outflow
