// Contacts and their custom fields: the values and the validation rules.
//
// A contact is unique by email (compared trimmed and lower-cased) and, when
// given, by external id. Standard fields are typed members; custom fields are
// defined at run time with a type and validated on every write. Pure: no I/O
// (time zones are checked against the system's tz database by TimeZoneExists,
// which only reads a file).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/status.h"
#include "base/strong_id.h"
#include "base/time.h"

namespace outflow {

struct ContactIdTag {};
using ContactId = StrongId<ContactIdTag>;

enum class FieldType { kText, kNumber, kBoolean, kDate, kDatetime };
std::string_view FieldTypeName(FieldType t);
std::optional<FieldType> ParseFieldType(std::string_view name);

// A custom field's value. Dates are "YYYY-MM-DD" and datetimes RFC 3339 in UTC
// ("2026-11-24T09:30:00.000000Z"), both stored as text so that they sort.
using FieldValue = std::variant<std::string, double, bool>;

struct FieldDefinition {
  std::string name;  // [a-z][a-z0-9_]{0,63}, not a standard field's name
  FieldType type = FieldType::kText;
  std::string label;  // for people; defaults to the name
  Timestamp created_at;
};

inline constexpr size_t kMaxTextFieldBytes = 4096;
inline constexpr size_t kMaxNameBytes = 255;

// Where a contact is: staged contacts wait in the staging area for a release plan.
enum class ContactStatus { kLive, kStaged };
std::string_view ContactStatusName(ContactStatus s);

struct Contact {
  ContactId id;
  std::optional<std::string> external_id;
  std::optional<std::string> email;  // as given (trimmed); uniqueness uses NormalizeEmail
  std::optional<std::string> phone;  // E.164, e.g. +4915112345678
  std::optional<std::string> first_name;
  std::optional<std::string> last_name;
  std::optional<std::string> time_zone;  // IANA name, e.g. Europe/Berlin
  std::optional<std::string> locale;     // BCP 47, e.g. en-US
  std::optional<std::string> owner;
  std::optional<std::string> pipeline_stage;
  std::optional<std::string> tier;
  std::optional<double> engagement_score;
  std::map<std::string, FieldValue> custom;
  ContactStatus status = ContactStatus::kLive;
  Timestamp created_at;
  Timestamp updated_at;
};

// The names of the standard fields, as used in the API, CSV mapping and filters.
const std::vector<std::string_view>& StandardContactFields();
bool IsStandardContactField(std::string_view name);

// Trimmed and lower-cased; the key that makes a contact unique.
std::string NormalizeEmail(std::string_view email);
// Validates and normalises in place. `field` prefixes messages ("email", "rows[3].email").
Status NormalizeAndValidateEmail(std::string& email, std::string_view field);
// Accepts spaces, dots, dashes and parentheses between digits; yields +DIGITS (E.164).
Status NormalizeAndValidatePhone(std::string& phone, std::string_view field);
// A name in the system tz database (/usr/share/zoneinfo), e.g. America/New_York.
bool TimeZoneExists(std::string_view name);
Status ValidateTimeZone(std::string_view tz, std::string_view field);
// BCP 47 language tags of the common shapes: en, en-US, pt_BR (-> pt-BR), zh-Hans-CN.
Status NormalizeAndValidateLocale(std::string& locale, std::string_view field);

Status ValidateFieldName(std::string_view name, std::string_view field);
// Converts a value given as text (a CSV cell, a CLI flag) to the field's type.
Result<FieldValue> ParseFieldValue(const FieldDefinition& def, std::string_view text, std::string_view field);
// Checks a typed value against the definition, normalising dates and datetimes.
Status NormalizeFieldValue(const FieldDefinition& def, FieldValue& value, std::string_view field);

// Validates and normalises every field of `c`; custom fields must be defined in
// `defs` (by name). Empty strings become "not set".
Status NormalizeAndValidateContact(Contact& c, const std::map<std::string, FieldDefinition, std::less<>>& defs,
                                   std::string_view prefix = "");

}  // namespace outflow
