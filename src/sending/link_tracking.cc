#include "sending/link_tracking.h"

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <cctype>
#include <charconv>
#include <vector>

namespace outflow {

namespace {

constexpr std::string_view kContext = "tracking";

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

bool IStartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && IEquals(s.substr(0, prefix.size()), prefix);
}

// Position of `needle` in `s` from `from`, ignoring ASCII case; npos when absent.
size_t IFind(std::string_view s, std::string_view needle, size_t from) {
  for (size_t i = from; i + needle.size() <= s.size(); ++i) {
    if (IEquals(s.substr(i, needle.size()), needle)) return i;
  }
  return std::string_view::npos;
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

// The attribute value as a browser reads it: the entities an href holds decoded.
std::string DecodeEntities(std::string_view v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '&') {
      if (IStartsWith(v.substr(i), "&amp;")) {
        out += '&';
        i += 4;
        continue;
      }
      if (v.substr(i).starts_with("&#38;")) {
        out += '&';
        i += 4;
        continue;
      }
      if (IStartsWith(v.substr(i), "&quot;")) {
        out += '"';
        i += 5;
        continue;
      }
    }
    out += v[i];
  }
  return out;
}

// One attribute of a tag: its name and where its value is (quotes included).
struct Attribute {
  std::string_view name;
  size_t value_begin = 0, value_end = 0;  // into the tag; equal when there is no value
  std::string_view value;                 // without quotes
};

// The attributes of the tag text after its name, up to its '>'. `end` gets the
// offset just past the tag.
std::vector<Attribute> ParseAttributes(std::string_view s, size_t pos, size_t& end) {
  std::vector<Attribute> out;
  while (pos < s.size()) {
    while (pos < s.size() && (IsSpace(s[pos]) || s[pos] == '/')) ++pos;
    if (pos >= s.size() || s[pos] == '>') break;
    const size_t name_begin = pos;
    while (pos < s.size() && !IsSpace(s[pos]) && s[pos] != '=' && s[pos] != '>' && s[pos] != '/') ++pos;
    Attribute a{s.substr(name_begin, pos - name_begin), pos, pos, {}};
    size_t p = pos;
    while (p < s.size() && IsSpace(s[p])) ++p;
    if (p < s.size() && s[p] == '=') {
      ++p;
      while (p < s.size() && IsSpace(s[p])) ++p;
      a.value_begin = p;
      if (p < s.size() && (s[p] == '"' || s[p] == '\'')) {
        const char q = s[p];
        const size_t close = s.find(q, p + 1);
        const size_t stop = close == std::string_view::npos ? s.size() : close;
        a.value = s.substr(p + 1, stop - p - 1);
        p = close == std::string_view::npos ? s.size() : close + 1;
      } else {
        const size_t start = p;
        while (p < s.size() && !IsSpace(s[p]) && s[p] != '>') ++p;
        a.value = s.substr(start, p - start);
      }
      a.value_end = p;
      pos = p;
    }
    out.push_back(a);
  }
  end = pos < s.size() ? pos + 1 : s.size();
  return out;
}

std::optional<int64_t> ParseId(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}

}  // namespace

LinkTracker::LinkTracker(const SecretBox& key, std::string public_url) : key_(key) {
  SetPublicUrl(std::move(public_url));
}

void LinkTracker::SetPublicUrl(std::string url) {
  public_url_ = std::move(url);
  while (!public_url_.empty() && public_url_.back() == '/') public_url_.pop_back();
}

std::string LinkTracker::OpenUrl(MessageId id) const {
  return public_url_ + "/t/o/" + std::to_string(id.value()) + "/" + key_.Tag(kContext, std::to_string(id.value())) +
         ".gif";
}

std::string LinkTracker::ClickUrl(MessageId id, std::string_view url) const {
  const std::string message = std::to_string(id.value()) + ":" + std::string(url);
  return public_url_ + "/t/c/" + std::to_string(id.value()) + "/" + key_.Tag(kContext, message) +
         "?u=" + boost::urls::encode(url, boost::urls::unreserved_chars);
}

std::optional<MessageId> LinkTracker::VerifyOpen(std::string_view id, std::string_view tag) const {
  std::optional<int64_t> n = ParseId(id);
  if (!n || !key_.VerifyTag(kContext, std::to_string(*n), tag)) return std::nullopt;
  return MessageId(*n);
}

std::optional<MessageId> LinkTracker::VerifyClick(std::string_view id, std::string_view tag,
                                                  std::string_view url) const {
  std::optional<int64_t> n = ParseId(id);
  if (!n || !key_.VerifyTag(kContext, std::to_string(*n) + ":" + std::string(url), tag)) return std::nullopt;
  return MessageId(*n);
}

std::string LinkTracker::Instrument(MessageId id, std::string_view html) const {
  std::string out;
  out.reserve(html.size() + html.size() / 4 + 256);
  size_t copied = 0;
  for (size_t at = IFind(html, "<a", 0); at != std::string_view::npos; at = IFind(html, "<a", at + 2)) {
    if (at + 2 >= html.size() || !IsSpace(html[at + 2])) continue;  // <abbr>, <area>, ...
    size_t end = 0;
    std::vector<Attribute> attrs = ParseAttributes(html, at + 2, end);
    const Attribute* href = nullptr;
    bool notrack = false;
    for (const Attribute& a : attrs) {
      if (IEquals(a.name, "href") && href == nullptr) href = &a;
      if (IEquals(a.name, "data-outflow-notrack")) notrack = true;
    }
    if (href != nullptr && !notrack && href->value_end > href->value_begin) {
      const std::string url = DecodeEntities(href->value);
      if (IStartsWith(url, "http://") || IStartsWith(url, "https://")) {
        out.append(html.substr(copied, href->value_begin - copied));
        out += '"';
        out += ClickUrl(id, url);  // percent-encoded: no '&' or '"' to escape
        out += '"';
        copied = href->value_end;
      }
    }
    at = end - 2;
  }
  out.append(html.substr(copied));
  const std::string pixel = "<img src=\"" + OpenUrl(id) + "\" width=\"1\" height=\"1\" alt=\"\" style=\"border:0\">";
  const size_t body_end = out.rfind("</body");
  const size_t body_end_upper = out.rfind("</BODY");
  size_t where = body_end == std::string::npos         ? body_end_upper
                 : body_end_upper == std::string::npos ? body_end
                                                       : std::max(body_end, body_end_upper);
  if (where == std::string::npos) where = out.size();
  out.insert(where, pixel);
  return out;
}

}  // namespace outflow
