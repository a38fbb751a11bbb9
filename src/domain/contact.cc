#include "domain/contact.h"

#include <algorithm>
#include <cstdint>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <unordered_map>

namespace outflow {

namespace {

std::string Dot(std::string_view prefix, std::string_view name) {
  return prefix.empty() ? std::string(name) : std::string(prefix) + "." + std::string(name);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }

// Checks that `s` is well-formed UTF-8 (no overlong forms or surrogates) with no
// control characters but tab.
bool ValidUtf8Text(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 && c != '\t') return false;
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

Status ValidateText(std::optional<std::string>& v, std::string_view name, std::string_view prefix, size_t limit) {
  if (!v) return Status::Ok();
  std::string_view t = Trim(*v);
  if (t.empty()) {
    v.reset();
    return Status::Ok();
  }
  if (t.size() > limit) {
    return Status::InvalidArgument(Dot(prefix, name) + ": longer than " + std::to_string(limit) + " bytes");
  }
  if (!ValidUtf8Text(t)) {
    return Status::InvalidArgument(Dot(prefix, name) + ": not valid UTF-8 text");
  }
  *v = std::string(t);
  return Status::Ok();
}

}  // namespace

std::string_view FieldTypeName(FieldType t) {
  switch (t) {
    case FieldType::kText: return "text";
    case FieldType::kNumber: return "number";
    case FieldType::kBoolean: return "boolean";
    case FieldType::kDate: return "date";
    case FieldType::kDatetime: return "datetime";
  }
  return "text";
}

std::optional<FieldType> ParseFieldType(std::string_view name) {
  for (FieldType t : {FieldType::kText, FieldType::kNumber, FieldType::kBoolean, FieldType::kDate, FieldType::kDatetime}) {
    if (FieldTypeName(t) == name) return t;
  }
  return std::nullopt;
}

std::string_view ContactStatusName(ContactStatus s) { return s == ContactStatus::kLive ? "live" : "staged"; }

const std::vector<std::string_view>& StandardContactFields() {
  static const std::vector<std::string_view> kFields = {
      "id",     "external_id", "email",          "phone", "first_name",       "last_name", "time_zone",
      "locale", "owner",       "pipeline_stage", "tier",  "engagement_score", "status",    "created_at",
      "updated_at"};
  return kFields;
}

bool IsStandardContactField(std::string_view name) {
  const auto& f = StandardContactFields();
  return std::find(f.begin(), f.end(), name) != f.end();
}

std::string NormalizeEmail(std::string_view email) {
  std::string s(Trim(email));
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

Status NormalizeAndValidateEmail(std::string& email, std::string_view field) {
  std::string e(Trim(email));
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(std::string(field) + ": '" + e.substr(0, 80) + "' is not a valid email address (" +
                                   std::string(why) + ")");
  };
  if (e.size() > 254) return bad("longer than 254 characters");
  auto at = e.rfind('@');
  if (at == std::string::npos) return bad("no '@'");
  std::string_view local(e.data(), at);
  std::string_view domain(e.data() + at + 1, e.size() - at - 1);
  if (local.empty() || local.size() > 64) return bad("the part before '@' must be 1 to 64 characters");
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
    return bad("misplaced '.' before '@'");
  }
  constexpr std::string_view kAtext = "!#$%&'*+/=?^_`{|}~-.";
  for (char c : local) {
    if (!IsAlpha(c) && !IsDigit(c) && kAtext.find(c) == std::string_view::npos &&
        static_cast<unsigned char>(c) < 0x80) {
      return bad(std::string("character '") + c + "' before '@'");
    }
  }
  if (domain.empty() || domain.find('.') == std::string_view::npos) return bad("the domain needs a dot");
  size_t start = 0;
  while (start <= domain.size()) {
    size_t dot = domain.find('.', start);
    std::string_view label = domain.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63) return bad("empty or over-long domain label");
    if (label.front() == '-' || label.back() == '-') return bad("a domain label starts or ends with '-'");
    for (char c : label) {
      if (!IsAlpha(c) && !IsDigit(c) && c != '-' && static_cast<unsigned char>(c) < 0x80) {
        return bad(std::string("character '") + c + "' in the domain");
      }
    }
    if (dot == std::string_view::npos) {
      if (std::all_of(label.begin(), label.end(), IsDigit)) return bad("the top-level domain is numeric");
      break;
    }
    start = dot + 1;
  }
  if (!ValidUtf8Text(e)) return bad("not valid UTF-8");
  email = e;
  return Status::Ok();
}

Status NormalizeAndValidatePhone(std::string& phone, std::string_view field) {
  std::string in(Trim(phone));
  std::string digits;
  bool plus = false;
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+' && i == 0) {
      plus = true;
    } else if (IsDigit(c)) {
      digits += c;
    } else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')') {
      return Status::InvalidArgument(std::string(field) + ": '" + in.substr(0, 40) +
                                     "' is not an E.164 phone number (unexpected character)");
    }
  }
  if (in.rfind("00", 0) == 0 && !plus) {  // 0049... is the international prefix for +49...
    digits = digits.substr(2);
    plus = true;
  }
  if (!plus || digits.size() < 8 || digits.size() > 15 || digits[0] == '0') {
    return Status::InvalidArgument(std::string(field) + ": '" + in.substr(0, 40) +
                                   "' is not an E.164 phone number (+ and 8 to 15 digits with the country code, "
                                   "e.g. +4915112345678)");
  }
  phone = "+" + digits;
  return Status::Ok();
}

bool TimeZoneExists(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '/' || name.find("..") != std::string_view::npos) {
    return false;
  }
  for (char c : name) {
    if (!IsAlpha(c) && !IsDigit(c) && c != '/' && c != '_' && c != '-' && c != '+') return false;
  }
  // Imports check the same few zones millions of times: remember each answer.
  static std::mutex mu;
  static std::unordered_map<std::string, bool> known;
  std::string key(name);
  {
    std::lock_guard g(mu);
    if (auto it = known.find(key); it != known.end()) return it->second;
  }
  std::ifstream f("/usr/share/zoneinfo/" + key, std::ios::binary);
  char magic[4] = {};
  bool ok = f.read(magic, 4) && std::string_view(magic, 4) == "TZif";
  std::lock_guard g(mu);
  if (known.size() < 4096) known.emplace(std::move(key), ok);
  return ok;
}

Status ValidateTimeZone(std::string_view tz, std::string_view field) {
  if (TimeZoneExists(tz)) return Status::Ok();
  return Status::InvalidArgument(std::string(field) + ": '" + std::string(tz.substr(0, 64)) +
                                 "' is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)");
}

Status NormalizeAndValidateLocale(std::string& locale, std::string_view field) {
  std::string l(Trim(locale));
  std::replace(l.begin(), l.end(), '_', '-');
  // language[-Script][-REGION]: 2-3 letters, then 4 letters, then 2 letters or 3 digits.
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dash = l.find('-', start);
    parts.push_back(l.substr(start, dash == std::string::npos ? std::string::npos : dash - start));
    if (dash == std::string::npos) break;
    start = dash + 1;
  }
  auto all = [](const std::string& s, bool (*pred)(char)) { return !s.empty() && std::all_of(s.begin(), s.end(), pred); };
  bool ok = parts.size() <= 3 && (parts[0].size() == 2 || parts[0].size() == 3) && all(parts[0], IsAlpha);
  size_t i = 1;
  if (ok && i < parts.size() && parts[i].size() == 4 && all(parts[i], IsAlpha)) ++i;
  if (ok && i < parts.size() &&
      ((parts[i].size() == 2 && all(parts[i], IsAlpha)) || (parts[i].size() == 3 && all(parts[i], IsDigit)))) {
    ++i;
  }
  if (!ok || i != parts.size()) {
    return Status::InvalidArgument(std::string(field) + ": '" + l.substr(0, 40) +
                                   "' is not a locale (a BCP 47 tag such as en, en-US or pt-BR)");
  }
  for (char& c : parts[0]) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string out = parts[0];
  for (size_t k = 1; k < parts.size(); ++k) {
    std::string p = parts[k];
    if (p.size() == 4) {
      for (size_t m = 0; m < 4; ++m) p[m] = static_cast<char>(m ? std::tolower(p[m]) : std::toupper(p[m]));
    } else {
      for (char& c : p) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    out += "-" + p;
  }
  locale = out;
  return Status::Ok();
}

Status ValidateFieldName(std::string_view name, std::string_view field) {
  std::string f(field);
  if (name.empty() || name.size() > 64 || !IsLower(name[0]) ||
      !std::all_of(name.begin(), name.end(), [](char c) { return IsLower(c) || IsDigit(c) || c == '_'; })) {
    return Status::InvalidArgument(f + ": '" + std::string(name.substr(0, 64)) +
                                   "' must be 1-64 characters of a-z, 0-9 and '_', starting with a letter");
  }
  if (IsStandardContactField(name)) {
    return Status::InvalidArgument(f + ": '" + std::string(name) + "' is a standard contact field");
  }
  return Status::Ok();
}

Result<FieldValue> ParseFieldValue(const FieldDefinition& def, std::string_view text, std::string_view field) {
  std::string_view t = Trim(text);
  std::string f(field);
  switch (def.type) {
    case FieldType::kText: {
      FieldValue v = std::string(t);
      OUTFLOW_RETURN_IF_ERROR(NormalizeFieldValue(def, v, field));
      return v;
    }
    case FieldType::kNumber: {
      std::string s(t);
      char* end = nullptr;
      double d = std::strtod(s.c_str(), &end);
      if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(d)) {
        return Status::InvalidArgument(f + ": '" + s.substr(0, 40) + "' is not a number");
      }
      return FieldValue(d);
    }
    case FieldType::kBoolean: {
      std::string s(t);
      for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (s == "true" || s == "yes" || s == "1" || s == "y") return FieldValue(true);
      if (s == "false" || s == "no" || s == "0" || s == "n") return FieldValue(false);
      return Status::InvalidArgument(f + ": '" + s.substr(0, 40) + "' is not a boolean (true/false, yes/no, 1/0)");
    }
    case FieldType::kDate:
    case FieldType::kDatetime: {
      FieldValue v = std::string(t);
      OUTFLOW_RETURN_IF_ERROR(NormalizeFieldValue(def, v, field));
      return v;
    }
  }
  return Status::Internal("unknown field type");
}

Status NormalizeFieldValue(const FieldDefinition& def, FieldValue& value, std::string_view field) {
  std::string f(field);
  std::string tname(FieldTypeName(def.type));
  switch (def.type) {
    case FieldType::kText: {
      auto* s = std::get_if<std::string>(&value);
      if (s == nullptr) return Status::InvalidArgument(f + ": must be text (the field's type is text)");
      std::optional<std::string> o = *s;
      OUTFLOW_RETURN_IF_ERROR(ValidateText(o, f, "", kMaxTextFieldBytes));
      *s = o.value_or("");
      return Status::Ok();
    }
    case FieldType::kNumber:
      if (!std::holds_alternative<double>(value) || !std::isfinite(std::get<double>(value))) {
        return Status::InvalidArgument(f + ": must be a number (the field's type is number)");
      }
      return Status::Ok();
    case FieldType::kBoolean:
      if (!std::holds_alternative<bool>(value)) {
        return Status::InvalidArgument(f + ": must be true or false (the field's type is boolean)");
      }
      return Status::Ok();
    case FieldType::kDate: {
      auto* s = std::get_if<std::string>(&value);
      if (s == nullptr) return Status::InvalidArgument(f + ": must be a date YYYY-MM-DD");
      std::string d(Trim(*s));
      Result<Timestamp> t = ParseRfc3339(d + "T00:00:00Z");
      if (d.size() != 10 || !t.ok()) return Status::InvalidArgument(f + ": '" + d.substr(0, 40) + "' is not a date YYYY-MM-DD");
      *s = d;
      return Status::Ok();
    }
    case FieldType::kDatetime: {
      auto* s = std::get_if<std::string>(&value);
      if (s == nullptr) return Status::InvalidArgument(f + ": must be an RFC 3339 datetime");
      Result<Timestamp> t = ParseRfc3339(Trim(*s));
      if (!t.ok()) return t.status().WithContext(f);
      *s = FormatRfc3339(*t);
      return Status::Ok();
    }
  }
  return Status::Internal("unknown field type " + tname);
}

Status NormalizeAndValidateContact(Contact& c, const std::map<std::string, FieldDefinition, std::less<>>& defs,
                                   std::string_view prefix) {
  OUTFLOW_RETURN_IF_ERROR(ValidateText(c.external_id, "external_id", prefix, kMaxNameBytes));
  OUTFLOW_RETURN_IF_ERROR(ValidateText(c.email, "email", prefix, 254));
  if (c.email) OUTFLOW_RETURN_IF_ERROR(NormalizeAndValidateEmail(*c.email, Dot(prefix, "email")));
  OUTFLOW_RETURN_IF_ERROR(ValidateText(c.phone, "phone", prefix, 40));
  if (c.phone) OUTFLOW_RETURN_IF_ERROR(NormalizeAndValidatePhone(*c.phone, Dot(prefix, "phone")));
  OUTFLOW_RETURN_IF_ERROR(ValidateText(c.first_name, "first_name", prefix, kMaxNameBytes));
  OUTFLOW_RETURN_IF_ERROR(ValidateText(c.last_name, "last_name", prefix, kMaxNameBytes));
  OUTFLOW_RETURN_IF_ERROR(ValidateText(c.time_zone, "time_zone", prefix, 64));
  if (c.time_zone) OUTFLOW_RETURN_IF_ERROR(ValidateTimeZone(*c.time_zone, Dot(prefix, "time_zone")));
  OUTFLOW_RETURN_IF_ERROR(ValidateText(c.locale, "locale", prefix, 40));
  if (c.locale) OUTFLOW_RETURN_IF_ERROR(NormalizeAndValidateLocale(*c.locale, Dot(prefix, "locale")));
  OUTFLOW_RETURN_IF_ERROR(ValidateText(c.owner, "owner", prefix, kMaxNameBytes));
  OUTFLOW_RETURN_IF_ERROR(ValidateText(c.pipeline_stage, "pipeline_stage", prefix, kMaxNameBytes));
  OUTFLOW_RETURN_IF_ERROR(ValidateText(c.tier, "tier", prefix, kMaxNameBytes));
  if (c.engagement_score && !std::isfinite(*c.engagement_score)) {
    return Status::InvalidArgument(Dot(prefix, "engagement_score") + ": must be a finite number");
  }
  if (!c.email && !c.external_id && !c.phone) {
    return Status::InvalidArgument((prefix.empty() ? std::string("contact") : std::string(prefix)) +
                                   ": needs an email, a phone or an external_id");
  }
  std::vector<std::string> blank;
  for (auto& [name, value] : c.custom) {
    auto it = defs.find(name);
    std::string f = Dot(prefix, "custom." + name);
    if (it == defs.end()) return Status::InvalidArgument(f + ": no custom field '" + name + "' is defined");
    OUTFLOW_RETURN_IF_ERROR(NormalizeFieldValue(it->second, value, f));
    if (auto* text = std::get_if<std::string>(&value); text && text->empty()) blank.push_back(name);
  }
  for (const auto& name : blank) c.custom.erase(name);  // empty means not set, as for standard fields
  return Status::Ok();
}

}  // namespace outflow
