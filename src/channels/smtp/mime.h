// MIME: builds the RFC 5322 / RFC 2045 text of one email from an OutboundMessage.
//
// The message (CRLF line endings, no line longer than 998 octets):
//   From: "Name" <from@domain>      (display name RFC 2047-encoded when not ASCII)
//   To: "Name" <to@domain>          (the same for to_name)
//   Reply-To: <reply_to>            (when set)
//   Subject: ...                    (RFC 2047 UTF-8 encoded-words when not plain ASCII)
//   Date: Tue, 24 Nov 2026 09:30:00 +0000   (the injected clock's time, UTC)
//   Message-ID: <key@from-domain>   (MessageIdFor: stable per idempotency key)
//   List-Unsubscribe: <url> and List-Unsubscribe-Post: List-Unsubscribe=One-Click
//                                   (RFC 8058, when unsubscribe_url is set)
//   MIME-Version: 1.0
//   then either one text/plain part (html empty) or multipart/alternative with
//   text/plain then text/html, both charset=UTF-8.
//
// Body transfer encoding, chosen per part: quoted-printable when at most a quarter
// of the octets need escaping (Latin-script text and HTML: the source stays
// readable and only ~3% larger), otherwise base64 (Cyrillic, Greek, CJK, emoji:
// QP would triple those octets, base64 costs a flat 4/3). Either keeps every line
// within 76 octets, so a long HTML line never breaks the 998-octet limit, and
// neither can produce the multipart boundary (it starts with "=_", which QP
// never emits and is outside the base64 alphabet).
//
// Refused (InvalidArgument naming the field): CR or LF in any header value
// (subject, names, addresses, unsubscribe_url), an address that is not
// local@domain, an empty idempotency key.
//
// Pure: no I/O, no global state; the same input gives the same octets.
// Thread-safety: all functions are safe to call concurrently.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "base/time.h"
#include "channels/channel.h"

namespace outflow::channels {

// The sender's side of every message, from the account's settings.
struct MailFrom {
  std::string address;   // "news@example.com"
  std::string name;      // display name, may be empty
  std::string reply_to;  // an address, may be empty
};

// Ok when `address` is an addr-spec usable in a header and the SMTP envelope:
// printable ASCII, no spaces or specials, exactly one '@' with text on both sides.
// Errors are InvalidArgument starting with `field`.
Status CheckMailAddress(std::string_view field, std::string_view address);

// Builds the full message. REQUIRES: nothing; every bad input is an error value.
Result<std::string> BuildMimeMessage(const OutboundMessage& message, const MailFrom& from, Timestamp date);

// "<key@domain>" where domain is the from address's domain and key is the
// idempotency key with every octet outside RFC 5322 atext (and any '.' that
// would make an invalid dot-atom) written as =XX, so that the id is valid,
// stable and distinct per key.
std::string MessageIdFor(std::string_view idempotency_key, std::string_view from_address);

// RFC 5322 date-time in UTC: "Tue, 24 Nov 2026 09:30:00 +0000".
std::string FormatRfc5322Date(Timestamp t);

// An unstructured header value: unchanged when it is printable ASCII without
// "=?", otherwise RFC 2047 "=?UTF-8?B?...?=" words of at most 75 octets each,
// split between UTF-8 characters and joined by CRLF SP (folding). `first_line_used`
// is the length of "Subject: " so that the first line stays short.
std::string EncodeUnstructuredHeader(std::string_view value, size_t first_line_used);

// Quoted-printable (RFC 2045 6.7) of UTF-8 text with CRLF line breaks; bare LF
// in the input is treated as a line break. Lines at most 76 octets.
std::string EncodeQuotedPrintable(std::string_view text);

// Base64 (RFC 2045 6.8) in lines of 76 characters, CRLF-separated.
std::string EncodeBase64Lines(std::string_view data);

// Plain base64 without line breaks.
std::string EncodeBase64(std::string_view data);

}  // namespace outflow::channels
