#include "channels/http_provider/http_provider_sender.h"

#include <curl/curl.h>
#include <strings.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>
#include <set>
#include <vector>

#include "base/log.h"
#include "base/retry_after.h"
#include "net/curl_outbound.h"

namespace outflow::channels {

namespace json = boost::json;

namespace {

constexpr int kDefaultConcurrency = 64;
constexpr int kMaxConcurrency = 1024;
constexpr int kDefaultTimeoutMs = 10'000;
constexpr int kMinTimeoutMs = 100;
constexpr int kMaxTimeoutMs = 120'000;
constexpr size_t kMaxResponseBytes = size_t{64} * 1024;  // enough for any id or error; the rest is dropped
constexpr size_t kMaxErrorText = 300;
constexpr char kHex[] = "0123456789ABCDEF";

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

Status Bad(std::string_view field, std::string_view what) {
  return Status::InvalidArgument(std::string(field) + ": " + std::string(what));
}

// ---------------------------------------------------------------------------
// Escaping.

// The length of the valid UTF-8 sequence at s[i] (a lead byte >= 0x80), 0 if invalid.
size_t Utf8Sequence(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return k < s.size() ? static_cast<unsigned char>(s[k]) : 0u; };
  auto cont = [&](size_t k) { return (at(k) & 0xc0) == 0x80; };
  unsigned c = at(i);
  if (c >= 0xc2 && c <= 0xdf) return cont(i + 1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    unsigned c1 = at(i + 1);
    if (c == 0xe0 && c1 < 0xa0) return 0;  // overlong
    if (c == 0xed && c1 > 0x9f) return 0;  // surrogates
    return cont(i + 1) && cont(i + 2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    unsigned c1 = at(i + 1);
    if (c == 0xf0 && c1 < 0x90) return 0;
    if (c == 0xf4 && c1 > 0x8f) return 0;
    return cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

// Appends `s` as the inside of a JSON string; invalid UTF-8 becomes U+FFFD.
void AppendJsonEscaped(std::string& out, std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size()) {
      unsigned char c = static_cast<unsigned char>(s[i]);
      if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
      ++i;
    }
    out.append(s.data() + start, i - start);
    if (i == s.size()) break;
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t len = Utf8Sequence(s, i);
      if (len == 0) {
        out += "\xef\xbf\xbd";
        ++i;
      } else {
        out.append(s.data() + i, len);
        i += len;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
    ++i;
  }
}

// application/x-www-form-urlencoded: unreserved octets as they are, space as '+'.
void AppendFormEscaped(std::string& out, std::string_view s) {
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
}

// ---------------------------------------------------------------------------
// Body templates.

enum class Escaping { kJson, kForm };

class BodyTemplate {
 public:
  enum class Kind : uint8_t { kLiteral, kTo, kToName, kText, kSubject, kIdempotencyKey, kVar };
  struct Segment {
    Kind kind;
    std::string text;  // the literal, or the var name
  };

  explicit BodyTemplate(Escaping escaping) : escaping_(escaping) {}

  void AddLiteral(std::string_view text) {
    if (text.empty()) return;
    if (!segments_.empty() && segments_.back().kind == Kind::kLiteral) {
      segments_.back().text += text;
    } else {
      segments_.push_back({Kind::kLiteral, std::string(text)});
    }
  }

  // Adds `text`, whose {{...}} are placeholders; the text between them is added
  // through `literal` (already escaped for the body, or to be escaped).
  template <typename LiteralFn>
  Status AddWithPlaceholders(std::string_view text, std::string_view field, LiteralFn literal) {
    size_t pos = 0;
    while (pos < text.size()) {
      size_t open = text.find("{{", pos);
      if (open == std::string_view::npos) break;
      size_t close = text.find("}}", open + 2);
      if (close == std::string_view::npos) return Bad(field, "a placeholder \"{{\" is not closed by \"}}\"");
      literal(text.substr(pos, open - pos));
      OUTFLOW_RETURN_IF_ERROR(AddPlaceholder(text.substr(open + 2, close - open - 2), field));
      pos = close + 2;
    }
    literal(text.substr(pos));
    return Status::Ok();
  }

  // Writes the body for `m` into `out` (cleared first; its capacity is reused).
  void Render(const OutboundMessage& m, std::string& out) const {
    out.clear();
    for (const Segment& s : segments_) {
      std::string_view v;
      switch (s.kind) {
        case Kind::kLiteral: out += s.text; continue;
        case Kind::kTo: v = m.to; break;
        case Kind::kToName: v = m.to_name; break;
        case Kind::kText: v = m.text; break;
        case Kind::kSubject: v = m.subject; break;
        case Kind::kIdempotencyKey: v = m.idempotency_key; break;
        case Kind::kVar: {
          auto it = m.vars.find(s.text);
          if (it == m.vars.end()) continue;
          v = it->second;
          break;
        }
      }
      if (escaping_ == Escaping::kJson) {
        AppendJsonEscaped(out, v);
      } else {
        AppendFormEscaped(out, v);
      }
    }
  }

 private:
  Status AddPlaceholder(std::string_view name, std::string_view field) {
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    Kind kind;
    std::string var;
    if (name == "to") {
      kind = Kind::kTo;
    } else if (name == "to_name") {
      kind = Kind::kToName;
    } else if (name == "text") {
      kind = Kind::kText;
    } else if (name == "subject") {
      kind = Kind::kSubject;
    } else if (name == "idempotency_key") {
      kind = Kind::kIdempotencyKey;
    } else if (name.starts_with("var.") && name.size() > 4 && std::all_of(name.begin() + 4, name.end(), [](char c) {
                 return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
               })) {
      kind = Kind::kVar;
      var = std::string(name.substr(4));
    } else {
      return Bad(field, "unknown placeholder {{" + std::string(name) +
                            "}} (known: to, to_name, text, subject, idempotency_key, var.NAME)");
    }
    segments_.push_back({kind, std::move(var)});
    return Status::Ok();
  }

  Escaping escaping_;
  std::vector<Segment> segments_;
};

// Placeholders live inside the strings of a JSON value: serialise it once and split
// the text at the placeholders found inside string literals.
Result<BodyTemplate> CompileJsonTemplate(const json::value& body, std::string_view field) {
  std::string text = json::serialize(body);
  BodyTemplate t(Escaping::kJson);
  size_t literal_start = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (!in_string) {
      in_string = c == '"';
      continue;
    }
    if (c == '\\') {
      ++i;
      continue;
    }
    if (c == '"') {
      in_string = false;
      continue;
    }
    if (c != '{' || i + 1 >= text.size() || text[i + 1] != '{') continue;
    // A placeholder must close inside the same string.
    size_t end = i + 2;
    while (end + 1 < text.size() && !(text[end] == '}' && text[end + 1] == '}') && text[end] != '"' &&
           text[end] != '\\') {
      ++end;
    }
    if (end + 1 >= text.size() || text[end] != '}') {
      return Bad(field, "a placeholder \"{{\" is not closed by \"}}\" in the same string");
    }
    t.AddLiteral(std::string_view(text).substr(literal_start, i - literal_start));
    OUTFLOW_RETURN_IF_ERROR(
        t.AddWithPlaceholders(std::string_view(text).substr(i, end + 2 - i), field, [](std::string_view) {}));
    i = end + 1;
    literal_start = end + 2;
  }
  t.AddLiteral(std::string_view(text).substr(literal_start));
  return t;
}

// A form body: fields in order, values with placeholders (or fixed).
class FormBuilder {
 public:
  FormBuilder() : t_(Escaping::kForm) {}
  Status Add(std::string_view name, std::string_view value_template, std::string_view field) {
    Separator(name);
    return t_.AddWithPlaceholders(value_template, field, [this](std::string_view lit) { Literal(lit); });
  }
  void AddFixed(std::string_view name, std::string_view value) {
    Separator(name);
    Literal(value);
  }
  BodyTemplate Take() { return std::move(t_); }

 private:
  void Separator(std::string_view name) {
    std::string s = first_ ? "" : "&";
    AppendFormEscaped(s, name);
    s += '=';
    t_.AddLiteral(s);
    first_ = false;
  }
  void Literal(std::string_view text) {
    std::string s;
    AppendFormEscaped(s, text);
    t_.AddLiteral(s);
  }
  BodyTemplate t_;
  bool first_ = true;
};

// ---------------------------------------------------------------------------
// Settings.

// Reads one settings object field by field and reports unknown fields at the end.
class Fields {
 public:
  Fields(const json::object& o, std::string prefix) : o_(o), prefix_(std::move(prefix)) {}

  std::string Name(std::string_view key) const { return prefix_ + "." + std::string(key); }

  const json::value* Get(std::string_view key) {
    used_.insert(std::string(key));
    auto it = o_.find(key);
    return it == o_.end() ? nullptr : &it->value();
  }

  Result<std::string> String(std::string_view key, bool required, std::string fallback = "") {
    const json::value* v = Get(key);
    if (v == nullptr) {
      if (required) return Bad(Name(key), "is required");
      return fallback;
    }
    if (!v->is_string()) return Bad(Name(key), "must be a string");
    std::string s(v->as_string());
    if (s.find_first_of("\r\n") != std::string::npos) return Bad(Name(key), "contains a line break");
    if (required && s.empty()) return Bad(Name(key), "is required");
    return s;
  }

  Result<int> Int(std::string_view key, int fallback, int lo, int hi) {
    const json::value* v = Get(key);
    if (v == nullptr) return fallback;
    if (!v->is_int64() && !v->is_uint64()) return Bad(Name(key), "must be an integer");
    int64_t n = v->is_int64() ? v->as_int64() : static_cast<int64_t>(std::min<uint64_t>(v->as_uint64(), INT64_MAX));
    if (n < lo || n > hi) {
      return Bad(Name(key), "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    }
    return static_cast<int>(n);
  }

  Status Finish() const {
    for (const auto& [k, v] : o_) {
      if (!used_.count(std::string(k))) {
        std::string known;
        for (const std::string& u : used_) known += (known.empty() ? "" : ", ") + u;
        return Bad(Name(k), known.empty() ? "unknown field (none expected)" : "unknown field (known: " + known + ")");
      }
    }
    return Status::Ok();
  }

 private:
  const json::object& o_;
  std::string prefix_;
  std::set<std::string> used_;
};

enum class ErrorStyle { kWhatsApp, kTwilio, kGeneric };

// Everything a sender needs, fixed when it is made.
struct ProviderConfig {
  std::string preset;
  std::string method = "POST";
  std::string url;
  std::vector<std::string> headers;  // "Name: value", fixed
  BodyTemplate body{Escaping::kJson};
  bool has_body = false;
  std::string id_pointer;
  std::string username;  // HTTP basic auth when not empty
  std::string password;
  std::string verify_url;
  bool twilio_idempotency = false;
  ErrorStyle errors = ErrorStyle::kGeneric;
  int concurrency = kDefaultConcurrency;
  int timeout_ms = kDefaultTimeoutMs;
};

Result<std::string> BaseUrl(Fields& f, std::string fallback) {
  OUTFLOW_ASSIGN_OR_RETURN(std::string base, f.String("base_url", false, std::move(fallback)));
  if (!base.starts_with("http://") && !base.starts_with("https://")) {
    return Bad(f.Name("base_url"), "must start with http:// or https://");
  }
  while (base.ends_with('/')) base.pop_back();
  return base;
}

bool IsToken(std::string_view s, std::string_view extra = "") {
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || extra.find(c) != std::string_view::npos;
  });
}

Status ParseWhatsApp(Fields& f, const json::object& credentials, ProviderConfig& c) {
  OUTFLOW_ASSIGN_OR_RETURN(std::string phone, f.String("phone_number_id", true));
  if (!IsToken(phone)) return Bad(f.Name("phone_number_id"), "must be the numeric id of the phone number");
  OUTFLOW_ASSIGN_OR_RETURN(std::string version, f.String("api_version", false, "v19.0"));
  if (version.size() < 2 || version[0] != 'v' || !IsToken(version.substr(1), ".")) {
    return Bad(f.Name("api_version"), "must look like v19.0");
  }
  OUTFLOW_ASSIGN_OR_RETURN(std::string base, BaseUrl(f, "https://graph.facebook.com"));
  OUTFLOW_ASSIGN_OR_RETURN(std::string type, f.String("message_type", false, "text"));
  json::object body = {{"messaging_product", "whatsapp"}, {"to", "{{to}}"}};
  if (type == "text") {
    body["type"] = "text";
    body["text"] = {{"body", "{{text}}"}};
    if (f.Get("template") != nullptr) return Bad(f.Name("template"), "is only for message_type \"template\"");
  } else if (type == "template") {
    const json::value* tpl = f.Get("template");
    if (tpl == nullptr || !tpl->is_object()) {
      return Bad(f.Name("template"), "is required for message_type \"template\": {\"name\", \"language\"}");
    }
    Fields tf(tpl->as_object(), f.Name("template"));
    OUTFLOW_ASSIGN_OR_RETURN(std::string name, tf.String("name", true));
    if (!IsToken(name, "_")) return Bad(tf.Name("name"), "must be a template name (letters, digits, _)");
    OUTFLOW_ASSIGN_OR_RETURN(std::string language, tf.String("language", true));
    if (!IsToken(language, "_-")) return Bad(tf.Name("language"), "must be a language code such as en_US");
    json::object t = {{"name", name}, {"language", {{"code", language}}}};
    if (const json::value* params = tf.Get("body_params")) {
      if (!params->is_array()) return Bad(tf.Name("body_params"), "must be an array of var names");
      json::array parameters;
      for (const json::value& p : params->as_array()) {
        if (!p.is_string() || !IsToken(p.as_string(), "_-.")) {
          return Bad(tf.Name("body_params"), "must be an array of var names");
        }
        parameters.push_back({{"type", "text"}, {"text", "{{var." + std::string(p.as_string()) + "}}"}});
      }
      t["components"] = json::array{json::object{{"type", "body"}, {"parameters", std::move(parameters)}}};
    }
    OUTFLOW_RETURN_IF_ERROR(tf.Finish());
    body["type"] = "template";
    body["template"] = std::move(t);
  } else {
    return Bad(f.Name("message_type"), "must be \"text\" or \"template\"");
  }
  Fields cf(credentials, "credentials");
  OUTFLOW_ASSIGN_OR_RETURN(std::string token, cf.String("access_token", true));
  OUTFLOW_RETURN_IF_ERROR(cf.Finish());

  c.url = base + "/" + version + "/" + phone + "/messages";
  c.verify_url = base + "/" + version + "/" + phone;
  c.headers = {"Authorization: Bearer " + token, "Content-Type: application/json"};
  OUTFLOW_ASSIGN_OR_RETURN(c.body, CompileJsonTemplate(body, "whatsapp body"));
  c.has_body = true;
  c.id_pointer = "/messages/0/id";
  c.errors = ErrorStyle::kWhatsApp;
  return Status::Ok();
}

Status ParseTwilio(Fields& f, const json::object& credentials, ProviderConfig& c) {
  OUTFLOW_ASSIGN_OR_RETURN(std::string sid, f.String("account_sid", true));
  if (!sid.starts_with("AC") || !IsToken(sid)) return Bad(f.Name("account_sid"), "must be an account SID (AC...)");
  OUTFLOW_ASSIGN_OR_RETURN(std::string from, f.String("from", false));
  OUTFLOW_ASSIGN_OR_RETURN(std::string service, f.String("messaging_service_sid", false));
  OUTFLOW_ASSIGN_OR_RETURN(std::string callback, f.String("status_callback", false));
  OUTFLOW_ASSIGN_OR_RETURN(std::string base, BaseUrl(f, "https://api.twilio.com"));
  if (from.empty() == service.empty()) {
    return Bad(f.Name("from"), "set exactly one of from (a phone number or sender id) and messaging_service_sid");
  }
  Fields cf(credentials, "credentials");
  OUTFLOW_ASSIGN_OR_RETURN(c.password, cf.String("auth_token", true));
  OUTFLOW_RETURN_IF_ERROR(cf.Finish());
  c.username = sid;

  FormBuilder form;
  OUTFLOW_RETURN_IF_ERROR(form.Add("To", "{{to}}", "twilio body"));
  if (!from.empty()) {
    form.AddFixed("From", from);
  } else {
    form.AddFixed("MessagingServiceSid", service);
  }
  OUTFLOW_RETURN_IF_ERROR(form.Add("Body", "{{text}}", "twilio body"));
  if (!callback.empty()) form.AddFixed("StatusCallback", callback);
  c.body = form.Take();
  c.has_body = true;
  c.url = base + "/2010-04-01/Accounts/" + sid + "/Messages.json";
  c.verify_url = base + "/2010-04-01/Accounts/" + sid + ".json";
  c.headers = {"Content-Type: application/x-www-form-urlencoded"};
  c.id_pointer = "/sid";
  c.twilio_idempotency = true;
  c.errors = ErrorStyle::kTwilio;
  return Status::Ok();
}

Status ParseCustom(Fields& f, const json::object& credentials, ProviderConfig& c) {
  OUTFLOW_ASSIGN_OR_RETURN(c.url, f.String("url", true));
  if (!c.url.starts_with("http://") && !c.url.starts_with("https://")) {
    return Bad(f.Name("url"), "must start with http:// or https://");
  }
  OUTFLOW_ASSIGN_OR_RETURN(c.method, f.String("method", false, "POST"));
  if (c.method != "POST" && c.method != "PUT" && c.method != "PATCH" && c.method != "GET") {
    return Bad(f.Name("method"), "must be one of POST, PUT, PATCH, GET");
  }
  OUTFLOW_ASSIGN_OR_RETURN(c.verify_url, f.String("verify_url", false));
  if (!c.verify_url.empty() && !c.verify_url.starts_with("http://") && !c.verify_url.starts_with("https://")) {
    return Bad(f.Name("verify_url"), "must start with http:// or https://");
  }
  OUTFLOW_ASSIGN_OR_RETURN(c.id_pointer, f.String("id_pointer", false));
  if (!c.id_pointer.empty() && c.id_pointer[0] != '/') {
    return Bad(f.Name("id_pointer"), "must be a JSON pointer such as /id or /data/0/id");
  }
  bool has_content_type = false;
  if (const json::value* headers = f.Get("headers")) {
    if (!headers->is_object()) return Bad(f.Name("headers"), "must be an object of strings");
    for (const auto& [k, v] : headers->as_object()) {
      std::string field = f.Name("headers") + "." + std::string(k);
      if (!v.is_string()) return Bad(field, "must be a string");
      std::string name(k);
      std::string value(v.as_string());
      if (name.empty() || name.find_first_of(":\r\n \t") != std::string::npos ||
          value.find_first_of("\r\n") != std::string::npos) {
        return Bad(field, "not a valid header");
      }
      if (strcasecmp(name.c_str(), "idempotency-key") == 0) return Bad(field, "is set by Outflow");
      has_content_type = has_content_type || strcasecmp(name.c_str(), "content-type") == 0;
      name += ": ";
      name += value;
      c.headers.push_back(std::move(name));
    }
  }
  const json::value* body = f.Get("body");
  const json::value* form = f.Get("form");
  if (body != nullptr && form != nullptr) return Bad(f.Name("form"), "set body or form, not both");
  if ((body != nullptr || form != nullptr) && c.method == "GET") {
    return Bad(f.Name(body ? "body" : "form"), "a GET request has no body");
  }
  if (body != nullptr) {
    OUTFLOW_ASSIGN_OR_RETURN(c.body, CompileJsonTemplate(*body, f.Name("body")));
    c.has_body = true;
    if (!has_content_type) c.headers.push_back("Content-Type: application/json");
  } else if (form != nullptr) {
    if (!form->is_object()) return Bad(f.Name("form"), "must be an object of string templates");
    FormBuilder fb;
    for (const auto& [k, v] : form->as_object()) {
      std::string field = f.Name("form") + "." + std::string(k);
      if (!v.is_string()) return Bad(field, "must be a string template");
      OUTFLOW_RETURN_IF_ERROR(fb.Add(k, v.as_string(), field));
    }
    c.body = fb.Take();
    c.has_body = true;
    if (!has_content_type) c.headers.push_back("Content-Type: application/x-www-form-urlencoded");
  }

  OUTFLOW_ASSIGN_OR_RETURN(std::string auth, f.String("auth", false, "none"));
  Fields cf(credentials, "credentials");
  if (auth == "bearer") {
    OUTFLOW_ASSIGN_OR_RETURN(std::string token, cf.String("token", true));
    c.headers.push_back("Authorization: Bearer " + token);
  } else if (auth == "basic") {
    OUTFLOW_ASSIGN_OR_RETURN(c.username, cf.String("username", true));
    OUTFLOW_ASSIGN_OR_RETURN(c.password, cf.String("password", false));
  } else if (auth != "none") {
    return Bad(f.Name("auth"), "must be one of none, bearer, basic");
  }
  return cf.Finish();
}

// ---------------------------------------------------------------------------
// Responses.

const json::value* At(const json::value& v, std::string_view pointer) {
  boost::system::error_code ec;
  const json::value* p = v.find_pointer(pointer, ec);
  return ec ? nullptr : p;
}

std::string Scalar(const json::value* v) {
  if (v == nullptr) return "";
  if (v->is_string()) return std::string(v->as_string());
  if (v->is_int64()) return std::to_string(v->as_int64());
  if (v->is_uint64()) return std::to_string(v->as_uint64());
  return "";
}

struct ProviderError {
  std::string message;
  std::string code;
};

ProviderError ExtractError(std::string_view body, ErrorStyle style) {
  ProviderError e;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec) {
    switch (style) {
      case ErrorStyle::kWhatsApp: {
        e.message = Scalar(At(v, "/error/message"));
        std::string details = Scalar(At(v, "/error/error_data/details"));
        if (!details.empty() && e.message.find(details) == std::string::npos) e.message += ": " + details;
        e.code = Scalar(At(v, "/error/code"));
        break;
      }
      case ErrorStyle::kTwilio:
        e.message = Scalar(At(v, "/message"));
        e.code = Scalar(At(v, "/code"));
        break;
      case ErrorStyle::kGeneric:
        for (std::string_view p : {"/error/message", "/message", "/error", "/detail", "/title", "/errors/0/message"}) {
          e.message = Scalar(At(v, p));
          if (!e.message.empty()) break;
        }
        e.code = Scalar(At(v, "/error/code"));
        if (e.code.empty()) e.code = Scalar(At(v, "/code"));
        break;
    }
  }
  if (e.message.empty()) e.message = std::string(body.substr(0, kMaxErrorText));
  if (e.message.size() > kMaxErrorText) e.message.resize(kMaxErrorText);
  for (char& ch : e.message) {
    if (static_cast<unsigned char>(ch) < 0x20) ch = ' ';
  }
  return e;
}

// Provider error codes that mean "slow down", whatever the HTTP status.
bool IsRateLimitCode(ErrorStyle style, std::string_view code) {
  if (style == ErrorStyle::kWhatsApp) {
    return code == "4" || code == "80007" || code == "130429" || code == "131056" || code == "2";
  }
  if (style == ErrorStyle::kTwilio) return code == "20429";
  return false;
}

bool IsTransientStatus(long status) {
  return status == 408 || status == 425 || status == 429 || status >= 500;
}

// ---------------------------------------------------------------------------
// The sender.

class HttpProviderSender final : public ChannelSender {
 public:
  HttpProviderSender(ProviderConfig config, Clock& clock, const net::OutboundPolicy& outbound)
      : config_(std::move(config)), clock_(clock), outbound_(outbound) {
    GlobalInit();
    multi_ = curl_multi_init();
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(config_.concurrency));
    curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(config_.concurrency));
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(config_.concurrency));
    slots_ = std::make_unique<Slot[]>(static_cast<size_t>(config_.concurrency));
    for (int i = 0; i < config_.concurrency; ++i) {
      Slot& s = slots_[static_cast<size_t>(i)];
      s.easy = curl_easy_init();
      SetupHandle(s, config_.url, /*per_message_headers=*/true);
    }
  }

  ~HttpProviderSender() override {
    for (int i = 0; i < config_.concurrency; ++i) {
      Slot& s = slots_[static_cast<size_t>(i)];
      if (s.added) curl_multi_remove_handle(multi_, s.easy);
    }
    curl_multi_cleanup(multi_);
    for (int i = 0; i < config_.concurrency; ++i) curl_easy_cleanup(slots_[static_cast<size_t>(i)].easy);
  }

  HttpProviderSender(const HttpProviderSender&) = delete;
  HttpProviderSender& operator=(const HttpProviderSender&) = delete;

  std::vector<SendResult> SendBatch(std::span<const OutboundMessage> messages) override {
    std::vector<SendResult> results(messages.size());
    size_t next = 0;
    size_t running = 0;
    size_t missing_ids = 0;

    auto start_next = [&](Slot& s) {
      while (next < messages.size()) {
        size_t i = next++;
        const OutboundMessage& m = messages[i];
        if (m.idempotency_key.empty() || m.idempotency_key.find_first_of("\r\n") != std::string::npos) {
          results[i].outcome = SendOutcome::kPermanent;
          results[i].error = "message refused before sending: idempotency_key: is empty or has a line break";
          continue;
        }
        Prepare(s, m);
        s.index = i;
        if (curl_multi_add_handle(multi_, s.easy) != CURLM_OK) {
          results[i].outcome = SendOutcome::kTransient;
          results[i].error = "request failed: could not start the transfer";
          continue;
        }
        s.added = true;
        ++running;
        return true;
      }
      return false;
    };

    for (int k = 0; k < config_.concurrency; ++k) {
      if (!start_next(slots_[static_cast<size_t>(k)])) break;
    }
    while (running > 0) {
      int still = 0;
      CURLMcode mc = curl_multi_perform(multi_, &still);
      int queued = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi_, &queued)) {
        if (msg->msg != CURLMSG_DONE) continue;
        Slot* s = nullptr;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &s);
        SendResult& r = results[s->index];
        r = Classify(*s, msg->data.result);
        if (r.outcome == SendOutcome::kSent && r.provider_id.empty() && !config_.id_pointer.empty()) ++missing_ids;
        curl_multi_remove_handle(multi_, s->easy);
        s->added = false;
        --running;
        start_next(*s);
      }
      if (mc != CURLM_OK) {
        std::string error = std::string("request failed: ") + curl_multi_strerror(mc);
        for (int k = 0; k < config_.concurrency; ++k) {
          Slot& s = slots_[static_cast<size_t>(k)];
          if (!s.added) continue;
          curl_multi_remove_handle(multi_, s.easy);
          s.added = false;
          results[s.index].outcome = SendOutcome::kTransient;
          results[s.index].error = error;
        }
        break;
      }
      if (running == 0) break;
      curl_multi_poll(multi_, nullptr, 0, 1000, nullptr);
    }
    if (missing_ids > 0) {
      log::Warn("http provider: sent, but the response had no message id",
                {{"preset", config_.preset}, {"id_pointer", config_.id_pointer}, {"messages", missing_ids}});
    }
    return results;
  }

  Status Verify() override {
    if (config_.verify_url.empty()) return Status::Ok();
    Slot s;
    s.easy = curl_easy_init();
    if (s.easy == nullptr) return Status::Internal("http provider: curl_easy_init failed");
    SetupHandle(s, config_.verify_url, /*per_message_headers=*/false);
    curl_easy_setopt(s.easy, CURLOPT_CUSTOMREQUEST, nullptr);
    curl_easy_setopt(s.easy, CURLOPT_HTTPGET, 1L);
    CURLcode rc = curl_easy_perform(s.easy);
    long status = 0;
    curl_easy_getinfo(s.easy, CURLINFO_RESPONSE_CODE, &status);
    std::string errbuf = s.errbuf;
    curl_easy_cleanup(s.easy);
    std::string what = config_.preset + " provider at " + config_.verify_url;
    if (std::optional<std::string> refused = s.outbound.Refusal(); rc != CURLE_OK && refused) {
      return Status::InvalidArgument("cannot reach " + what + ": " + *refused);
    }
    if (rc != CURLE_OK) {
      return Status::Unavailable("cannot reach " + what + ": " +
                                 (errbuf.empty() ? std::string(curl_easy_strerror(rc)) : errbuf));
    }
    if (status >= 200 && status < 300) return Status::Ok();
    ProviderError e = ExtractError(s.response, config_.errors);
    std::string reply =
        "HTTP " + std::to_string(status) + ": " + e.message + (e.code.empty() ? "" : " (code " + e.code + ")");
    if (status == 401 || status == 403) return Status::InvalidArgument(what + " rejected the credentials: " + reply);
    if (IsTransientStatus(status)) return Status::Unavailable(what + " is unavailable: " + reply);
    return Status::InvalidArgument(what + " refused the settings: " + reply);
  }

 private:
  // One easy handle and the buffers its requests point into.
  struct Slot {
    CURL* easy = nullptr;
    bool added = false;
    size_t index = 0;
    std::string body;
    std::string idempotency_header;  // "Idempotency-Key: <key>"
    std::string twilio_header;       // "I-Twilio-Idempotency-Token: <key>"
    // The request's header list: the per-message headers first, pointing into the
    // strings above, then the fixed ones (config_.headers). Built by hand (curl_slist
    // is a plain public struct) so that a message costs no list allocation.
    std::vector<curl_slist> header_nodes;
    size_t per_message_headers = 0;
    std::string response;
    std::string retry_after;
    char errbuf[CURL_ERROR_SIZE] = {0};
    net::CurlOutbound outbound;  // judges every address the handle connects to
  };

  static size_t OnBody(char* data, size_t size, size_t n, void* user) {
    auto* s = static_cast<Slot*>(user);
    size_t len = size * n;
    if (s->response.size() < kMaxResponseBytes) {
      s->response.append(data, std::min(len, kMaxResponseBytes - s->response.size()));
    }
    return len;
  }

  static size_t OnHeader(char* data, size_t size, size_t n, void* user) {
    auto* s = static_cast<Slot*>(user);
    size_t len = size * n;
    std::string_view line(data, len);
    if (line.starts_with("HTTP/")) {
      s->retry_after.clear();  // a new response (e.g. after 100 Continue)
    } else if (line.size() > 12 && strncasecmp(line.data(), "retry-after:", 12) == 0) {
      std::string_view v = line.substr(12);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
      s->retry_after.assign(v);
    }
    return len;
  }

  void SetupHandle(Slot& s, const std::string& url, bool per_message_headers) {
    CURL* c = s.easy;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "outflow/0.1");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.timeout_ms));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min(config_.timeout_ms, 5000)));
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s.errbuf);
    curl_easy_setopt(c, CURLOPT_PRIVATE, &s);
    s.outbound.Install(c, outbound_);
    if (!config_.username.empty()) {
      curl_easy_setopt(c, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
      curl_easy_setopt(c, CURLOPT_USERNAME, config_.username.c_str());
      curl_easy_setopt(c, CURLOPT_PASSWORD, config_.password.c_str());
    }
    if (config_.method == "POST") {
      curl_easy_setopt(c, CURLOPT_POST, 1L);
    } else if (config_.method == "GET") {
      curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, config_.method.c_str());
    }

    s.per_message_headers = per_message_headers ? (config_.twilio_idempotency ? 2 : 1) : 0;
    size_t fixed = config_.headers.size() + 1;  // + "Expect:" (no 100-continue round trip)
    s.header_nodes.assign(s.per_message_headers + fixed, curl_slist{nullptr, nullptr});
    for (size_t k = 0; k < config_.headers.size(); ++k) {
      s.header_nodes[s.per_message_headers + k].data = const_cast<char*>(config_.headers[k].c_str());
    }
    s.header_nodes.back().data = const_cast<char*>("Expect:");
    if (!per_message_headers) {
      // Verify sends no body: drop Content-Type, keep the rest.
      size_t kept = 0;
      for (curl_slist& node : s.header_nodes) {
        if (strncasecmp(node.data, "content-type:", 13) != 0) s.header_nodes[kept++] = node;
      }
      s.header_nodes.resize(kept);
    }
    for (size_t k = 0; k + 1 < s.header_nodes.size(); ++k) s.header_nodes[k].next = &s.header_nodes[k + 1];
    if (per_message_headers) {
      // Placeholders until the first message.
      s.idempotency_header = "Idempotency-Key: -";
      s.twilio_header = "I-Twilio-Idempotency-Token: -";
      s.header_nodes[0].data = s.idempotency_header.data();
      if (config_.twilio_idempotency) s.header_nodes[1].data = s.twilio_header.data();
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, s.header_nodes.data());
  }

  void Prepare(Slot& s, const OutboundMessage& m) {
    s.idempotency_header.resize(17);  // "Idempotency-Key: "
    s.idempotency_header += m.idempotency_key;
    s.header_nodes[0].data = s.idempotency_header.data();
    if (config_.twilio_idempotency) {
      s.twilio_header.resize(28);  // "I-Twilio-Idempotency-Token: "
      s.twilio_header += m.idempotency_key;
      s.header_nodes[1].data = s.twilio_header.data();
    }
    if (config_.has_body) {
      config_.body.Render(m, s.body);
      curl_easy_setopt(s.easy, CURLOPT_POSTFIELDS, s.body.data());
      curl_easy_setopt(s.easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(s.body.size()));
    } else if (config_.method != "GET") {
      curl_easy_setopt(s.easy, CURLOPT_POSTFIELDS, "");
      curl_easy_setopt(s.easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(0));
    }
    s.response.clear();
    s.retry_after.clear();
    s.errbuf[0] = '\0';
    s.outbound.Clear();
  }

  SendResult Classify(const Slot& s, CURLcode rc) {
    SendResult r;
    if (std::optional<std::string> refused = s.outbound.Refusal(); rc != CURLE_OK && refused) {
      r.outcome = SendOutcome::kPermanent;  // the same address would be refused on every retry
      r.error = std::move(*refused);
      return r;
    }
    if (rc != CURLE_OK) {
      r.outcome = SendOutcome::kTransient;
      r.error = std::string("request failed: ") + (s.errbuf[0] ? s.errbuf : curl_easy_strerror(rc));
      return r;
    }
    long status = 0;
    curl_easy_getinfo(s.easy, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
      r.outcome = SendOutcome::kSent;
      if (!config_.id_pointer.empty()) {
        // The id is small and near the top: parse into a stack arena, no heap.
        unsigned char arena[4096];
        json::monotonic_resource mr(arena, sizeof arena);
        boost::system::error_code ec;
        json::value v = json::parse(s.response, ec, &mr);
        if (!ec) r.provider_id = Scalar(At(v, config_.id_pointer));
      }
      return r;
    }
    ProviderError e = ExtractError(s.response, config_.errors);
    r.error = "HTTP " + std::to_string(status) + ": " + e.message;
    if (!e.code.empty()) r.error += " (code " + e.code + ")";
    if (IsTransientStatus(status) || IsRateLimitCode(config_.errors, e.code)) {
      r.outcome = SendOutcome::kTransient;
      r.retry_after = ParseRetryAfter(s.retry_after, clock_.Now());
    } else {
      r.outcome = SendOutcome::kPermanent;
    }
    return r;
  }

  ProviderConfig config_;
  Clock& clock_;
  const net::OutboundPolicy& outbound_;
  CURLM* multi_ = nullptr;
  std::unique_ptr<Slot[]> slots_;
};

}  // namespace

Result<std::unique_ptr<ChannelSender>> MakeHttpProviderSender(const json::object& settings,
                                                              const json::object& credentials, Clock& clock,
                                                              const net::OutboundPolicy& outbound) {
  Fields f(settings, "settings");
  ProviderConfig c;
  OUTFLOW_ASSIGN_OR_RETURN(c.preset, f.String("preset", true));
  OUTFLOW_ASSIGN_OR_RETURN(c.concurrency, f.Int("concurrency", kDefaultConcurrency, 1, kMaxConcurrency));
  OUTFLOW_ASSIGN_OR_RETURN(c.timeout_ms, f.Int("timeout_ms", kDefaultTimeoutMs, kMinTimeoutMs, kMaxTimeoutMs));
  if (c.preset == "whatsapp_cloud") {
    OUTFLOW_RETURN_IF_ERROR(ParseWhatsApp(f, credentials, c));
  } else if (c.preset == "twilio_sms") {
    OUTFLOW_RETURN_IF_ERROR(ParseTwilio(f, credentials, c));
  } else if (c.preset == "http") {
    OUTFLOW_RETURN_IF_ERROR(ParseCustom(f, credentials, c));
  } else {
    return Bad("settings.preset", "must be one of whatsapp_cloud, twilio_sms, http");
  }
  OUTFLOW_RETURN_IF_ERROR(f.Finish());
  return std::unique_ptr<ChannelSender>(std::make_unique<HttpProviderSender>(std::move(c), clock, outbound));
}

}  // namespace outflow::channels
