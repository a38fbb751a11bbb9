#include "channels/smtp/mime.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>

namespace outflow::channels {

namespace {

constexpr size_t kMaxLineOctets = 998;
constexpr size_t kQpLineOctets = 76;
constexpr size_t kMaxEncodedWord = 75;                  // RFC 2047 section 2
constexpr std::string_view kWordPrefix = "=?UTF-8?B?";  // + base64 + "?="
constexpr size_t kWordOverhead = 12;
constexpr size_t kMaxQuotedName = 200;  // longer ASCII names are encoded (and so folded)

constexpr char kHex[] = "0123456789ABCDEF";
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool HasCrLf(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

bool IsPrintableAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// RFC 5322 atext.
bool IsAtext(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) != std::string_view::npos;
}

}  // namespace

Status CheckMailAddress(std::string_view field, std::string_view address) {
  if (address.empty()) return Status::InvalidArgument(std::string(field) + ": is empty");
  if (HasCrLf(address)) return Status::InvalidArgument(std::string(field) + ": contains a line break");
  size_t at = address.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == address.size() || address.find('@') != at) {
    return Status::InvalidArgument(std::string(field) + ": not an address of the form local@domain");
  }
  for (unsigned char c : address) {
    if (c <= 0x20 || c >= 0x7f ||
        std::string_view("<>()[]\\,;:\"").find(static_cast<char>(c)) != std::string_view::npos) {
      return Status::InvalidArgument(std::string(field) + ": contains a character not allowed in an address");
    }
  }
  return Status::Ok();
}

namespace {

size_t Utf8Length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xe0) == 0xc0) return 2;
  if ((lead & 0xf0) == 0xe0) return 3;
  if ((lead & 0xf8) == 0xf0) return 4;
  return 1;  // a stray byte: its own "character"
}

void AppendBase64(std::string_view data, std::string& out) {
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(data[k])); };
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  size_t rest = data.size() - i;
  if (rest == 1) {
    uint32_t v = byte(i) << 16;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += '=';
  }
}

// RFC 2047 B-encoded words for `value`, folded with CRLF SP. The first word is
// shortened so that `first_line_used` + the word stays within 78 octets.
std::string EncodedWords(std::string_view value, size_t first_line_used) {
  std::string out;
  size_t max_raw = (kMaxEncodedWord - kWordOverhead) / 4 * 3;  // 45 octets
  size_t first_raw = max_raw;
  if (first_line_used + kMaxEncodedWord > 78) {
    size_t room = 78 > first_line_used + kWordOverhead ? 78 - first_line_used - kWordOverhead : 0;
    first_raw = std::max<size_t>(room / 4 * 3, 12);
  }
  size_t pos = 0;
  bool first = true;
  while (pos < value.size()) {
    size_t limit = first ? first_raw : max_raw;
    size_t end = pos;
    while (end < value.size()) {
      size_t len = std::min(Utf8Length(static_cast<unsigned char>(value[end])), value.size() - end);
      if (end + len - pos > limit) break;
      end += len;
    }
    if (end == pos) end = pos + 1;  // cannot happen with limit >= 4; guards the loop
    if (!first) out += "\r\n ";
    out += kWordPrefix;
    AppendBase64(value.substr(pos, end - pos), out);
    out += "?=";
    pos = end;
    first = false;
  }
  return out;
}

// A display name as an RFC 5322 phrase: a quoted-string when it is short
// printable ASCII, otherwise encoded words.
std::string Phrase(std::string_view name, size_t used) {
  if (IsPrintableAscii(name) && name.size() <= kMaxQuotedName && name.find("=?") == std::string_view::npos) {
    std::string out = "\"";
    for (char c : name) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
    return out;
  }
  return EncodedWords(name, used);
}

std::string Mailbox(std::string_view header, std::string_view name, std::string_view address) {
  std::string line(header);
  line += ": ";
  if (!name.empty()) {
    line += Phrase(name, line.size());
    line += ' ';
  }
  line += '<';
  line += address;
  line += ">\r\n";
  return line;
}

enum class Cte { kQuotedPrintable, kBase64 };

Cte ChooseEncoding(std::string_view text) {
  size_t escaped = 0;
  for (unsigned char c : text) {
    if (c >= 0x80 || c == '=' || (c < 0x20 && c != '\r' && c != '\n' && c != '\t')) ++escaped;
  }
  return escaped * 4 > text.size() ? Cte::kBase64 : Cte::kQuotedPrintable;
}

void AppendPart(std::string_view content_type, std::string_view text, std::string& out) {
  Cte cte = ChooseEncoding(text);
  out += "Content-Type: ";
  out += content_type;
  out += "; charset=UTF-8\r\n";
  if (cte == Cte::kQuotedPrintable) {
    out += "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
    out += EncodeQuotedPrintable(text);
  } else {
    out += "Content-Transfer-Encoding: base64\r\n\r\n";
    out += EncodeBase64Lines(text);
  }
}

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

std::string EncodeBase64(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  AppendBase64(data, out);
  return out;
}

std::string EncodeBase64Lines(std::string_view data) {
  constexpr size_t kRawPerLine = 57;  // 76 base64 characters
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4 + data.size() / kRawPerLine * 2 + 2);
  for (size_t pos = 0; pos < data.size(); pos += kRawPerLine) {
    AppendBase64(data.substr(pos, kRawPerLine), out);
    out += "\r\n";
  }
  return out;
}

std::string EncodeQuotedPrintable(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 16 + 8);
  size_t line_len = 0;
  auto emit = [&](std::string_view token) {
    if (line_len + token.size() > kQpLineOctets - 1) {  // room for a soft break "="
      out += "=\r\n";
      line_len = 0;
    }
    out += token;
    line_len += token.size();
  };
  char escaped[3] = {'=', '0', '0'};
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      out += "\r\n";
      line_len = 0;
      continue;
    }
    bool at_line_end = i + 1 == text.size() || text[i + 1] == '\r' || text[i + 1] == '\n';
    bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_line_end);
    if (literal) {
      char ch = static_cast<char>(c);
      emit(std::string_view(&ch, 1));
    } else {
      escaped[1] = kHex[c >> 4];
      escaped[2] = kHex[c & 15];
      emit(std::string_view(escaped, 3));
    }
  }
  return out;
}

std::string EncodeUnstructuredHeader(std::string_view value, size_t first_line_used) {
  if (IsPrintableAscii(value) && value.find("=?") == std::string_view::npos &&
      first_line_used + value.size() <= kMaxLineOctets) {
    return std::string(value);
  }
  return EncodedWords(value, first_line_used);
}

std::string FormatRfc5322Date(Timestamp t) {
  using namespace std::chrono;
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  auto day = floor<days>(t);
  year_month_day ymd(day);
  weekday wd(day);
  hh_mm_ss<seconds> hms(floor<seconds>(t - day));
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02u %s %04d %02d:%02d:%02d +0000", kDays[wd.c_encoding()],
                static_cast<unsigned>(ymd.day()), kMonths[static_cast<unsigned>(ymd.month()) - 1],
                static_cast<int>(ymd.year()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
  return buf;
}

std::string MessageIdFor(std::string_view idempotency_key, std::string_view from_address) {
  std::string id = "<";
  for (size_t i = 0; i < idempotency_key.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(idempotency_key[i]);
    bool keep = IsAtext(c) && c != '=';
    if (c == '.') {
      // A dot-atom has no leading, trailing or doubled dot.
      keep = i > 0 && i + 1 < idempotency_key.size() && idempotency_key[i - 1] != '.';
    }
    if (keep) {
      id += static_cast<char>(c);
    } else {
      id += '=';
      id += kHex[c >> 4];
      id += kHex[c & 15];
    }
  }
  size_t at = from_address.rfind('@');
  id += '@';
  id += at == std::string_view::npos ? from_address : from_address.substr(at + 1);
  id += '>';
  return id;
}

Result<std::string> BuildMimeMessage(const OutboundMessage& message, const MailFrom& from, Timestamp date) {
  if (message.idempotency_key.empty()) return Status::InvalidArgument("idempotency_key: is empty");
  OUTFLOW_RETURN_IF_ERROR(CheckMailAddress("from_address", from.address));
  OUTFLOW_RETURN_IF_ERROR(CheckMailAddress("to", message.to));
  if (!from.reply_to.empty()) OUTFLOW_RETURN_IF_ERROR(CheckMailAddress("reply_to", from.reply_to));
  if (HasCrLf(from.name)) return Status::InvalidArgument("from_name: contains a line break");
  if (HasCrLf(message.to_name)) return Status::InvalidArgument("to_name: contains a line break");
  if (HasCrLf(message.subject)) return Status::InvalidArgument("subject: contains a line break");
  if (!message.unsubscribe_url.empty()) {
    for (unsigned char c : message.unsubscribe_url) {
      if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>') {
        return Status::InvalidArgument(c == '\r' || c == '\n'
                                           ? "unsubscribe_url: contains a line break"
                                           : "unsubscribe_url: contains a space, '<', '>' or a non-ASCII octet");
      }
    }
  }

  std::string message_id = MessageIdFor(message.idempotency_key, from.address);
  std::string out;
  out.reserve(1024 + message.text.size() * 5 / 4 + message.html.size() * 5 / 4);
  out += Mailbox("From", from.name, from.address);
  out += Mailbox("To", message.to_name, message.to);
  if (!from.reply_to.empty()) out += "Reply-To: <" + from.reply_to + ">\r\n";
  out += "Subject: ";
  out += EncodeUnstructuredHeader(message.subject, 9);
  out += "\r\nDate: ";
  out += FormatRfc5322Date(date);
  out += "\r\nMessage-ID: ";
  out += message_id;
  out += "\r\n";
  if (!message.unsubscribe_url.empty()) {
    out += "List-Unsubscribe: <" + message.unsubscribe_url + ">\r\n";
    out += "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n";
  }
  out += "MIME-Version: 1.0\r\n";
  if (message.html.empty()) {
    AppendPart("text/plain", message.text, out);
  } else {
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(Fnv1a(message_id)));
    std::string boundary = std::string("=_outflow_") + hash;
    out += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n";
    out += "This is a multi-part message in MIME format.\r\n";
    out += "--" + boundary + "\r\n";
    AppendPart("text/plain", message.text, out);
    out += "\r\n--" + boundary + "\r\n";
    AppendPart("text/html", message.html, out);
    out += "\r\n--" + boundary + "--\r\n";
  }
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out += "\r\n";

  // Headers may carry long input (an address, a key): check the limit once.
  size_t line_start = 0;
  for (size_t pos = out.find("\r\n"); pos != std::string::npos; pos = out.find("\r\n", line_start)) {
    if (pos - line_start > kMaxLineOctets) {
      return Status::InvalidArgument("message: a header line would exceed 998 octets (an address or key is too long)");
    }
    line_start = pos + 2;
  }
  return out;
}

}  // namespace outflow::channels
