// Test-only: a small reader of the MIME text BuildMimeMessage writes (unfolding,
// RFC 2047 B words, quoted-printable, base64, multipart), written independently of
// mime.cc so that tests check the encoder against a decoder. Used by mime_test and
// smtp_sender_test (on the messages a real SMTP server stored). Not for production:
// it reports malformed input through GoogleTest failures.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace outflow::channels::mime_reader {

inline std::string DecodeBase64(std::string_view in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = val(c);
    if (v < 0) continue;  // CRLF, padding
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

inline std::string DecodeQuotedPrintable(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '=') {
      out += in[i];
      continue;
    }
    if (in.substr(i + 1, 2) == "\r\n") {  // soft line break
      i += 2;
      continue;
    }
    out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
    i += 2;
  }
  return out;
}

// Decodes a header value made of RFC 2047 B words (whitespace between words is
// dropped) or plain text.
inline std::string DecodeHeaderValue(std::string_view v) {
  std::string out;
  bool prev_word = false;
  size_t i = 0;
  while (i < v.size()) {
    if (v.substr(i, 10) == "=?UTF-8?B?") {
      size_t end = v.find("?=", i + 10);
      out += DecodeBase64(v.substr(i + 10, end - i - 10));
      i = end + 2;
      prev_word = true;
      continue;
    }
    size_t ws_end = i;
    while (ws_end < v.size() && (v[ws_end] == ' ' || v[ws_end] == '\t')) ++ws_end;
    if (ws_end > i && prev_word && v.substr(ws_end, 10) == "=?UTF-8?B?") {
      i = ws_end;
      continue;
    }
    out += v[i++];
    prev_word = false;
  }
  return out;
}

struct Entity {
  std::vector<std::pair<std::string, std::string>> headers;  // unfolded, in order
  std::string body;

  std::string Header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return "<missing " + std::string(name) + ">";
  }
  int Count(std::string_view name) const {
    int n = 0;
    for (const auto& [k, v] : headers) n += k == name;
    return n;
  }
};

inline Entity ParseEntity(std::string_view text) {
  Entity e;
  size_t split = text.find("\r\n\r\n");
  EXPECT_NE(split, std::string_view::npos) << "no blank line after the headers";
  std::string_view head = text.substr(0, split + 2);
  e.body = std::string(text.substr(split + 4));
  std::string current;
  size_t pos = 0;
  while (pos < head.size()) {
    size_t eol = head.find("\r\n", pos);
    std::string_view line = head.substr(pos, eol - pos);
    pos = eol + 2;
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      current += line;  // unfold: drop the CRLF, keep the whitespace
      continue;
    }
    if (!current.empty()) {
      size_t colon = current.find(':');
      e.headers.emplace_back(current.substr(0, colon), current.substr(colon + 2));
    }
    current = std::string(line);
  }
  if (!current.empty()) {
    size_t colon = current.find(':');
    e.headers.emplace_back(current.substr(0, colon), current.substr(colon + 2));
  }
  return e;
}

inline std::string DecodeBody(const Entity& e) {
  std::string cte = e.Header("Content-Transfer-Encoding");
  if (cte == "quoted-printable") return DecodeQuotedPrintable(e.body);
  if (cte == "base64") return DecodeBase64(e.body);
  ADD_FAILURE() << "unexpected Content-Transfer-Encoding " << cte;
  return e.body;
}

inline std::vector<Entity> SplitMultipart(const Entity& e) {
  std::string ct = e.Header("Content-Type");
  size_t b = ct.find("boundary=\"");
  EXPECT_NE(b, std::string::npos) << ct;
  std::string boundary = ct.substr(b + 10, ct.find('"', b + 10) - b - 10);
  std::string delim = "\r\n--" + boundary;
  std::string body = "\r\n" + e.body;  // the first delimiter follows the preamble's CRLF
  std::vector<Entity> parts;
  size_t pos = body.find(delim);
  while (pos != std::string::npos) {
    size_t start = pos + delim.size();
    if (body.compare(start, 2, "--") == 0) break;  // close delimiter
    start += 2;                                    // CRLF after the boundary
    size_t next = body.find(delim, start);
    EXPECT_NE(next, std::string::npos) << "no close delimiter";
    if (next == std::string::npos) break;
    parts.push_back(ParseEntity(std::string_view(body).substr(start, next - start)));
    pos = next;
  }
  return parts;
}

inline void ExpectWellFormedLines(const std::string& msg) {
  size_t line_start = 0;
  for (size_t i = 0; i < msg.size(); ++i) {
    if (msg[i] == '\n') {
      ASSERT_GT(i, 0u);
      ASSERT_EQ(msg[i - 1], '\r') << "bare LF at octet " << i;
      EXPECT_LE(i - 1 - line_start, 998u);
      line_start = i + 1;
    } else if (msg[i] == '\r') {
      ASSERT_TRUE(i + 1 < msg.size() && msg[i + 1] == '\n') << "bare CR at octet " << i;
    }
  }
  EXPECT_EQ(line_start, msg.size()) << "the message does not end with CRLF";
}

}  // namespace outflow::channels::mime_reader
