#include "channels/smtp/mime.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "channels/smtp/mime_reader_for_test.h"
#include "testing/status_matchers.h"

namespace outflow::channels {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using namespace ::outflow::channels::mime_reader;  // NOLINT(google-build-using-namespace)

const Timestamp kDate = FromMicros(1795512600LL * 1'000'000);  // 2026-11-24T09:30:00Z

MailFrom From() {
  return {"news@mail.example.com", "Example News", ""};
}

OutboundMessage Msg() {
  OutboundMessage m;
  m.idempotency_key = "c42-r7";
  m.to = "ann@example.org";
  m.to_name = "Ann Lee";
  m.subject = "Hello Ann";
  m.text = "Hi Ann,\nwelcome.\n";
  return m;
}

std::string Build(const OutboundMessage& m, const MailFrom& from = From()) {
  auto r = BuildMimeMessage(m, from, kDate);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : std::string();
}

// --- Tests. ---

TEST(MimeTest, TextOnlyMessageHasEveryHeaderAndDecodes) {
  std::string raw = Build(Msg());
  ExpectWellFormedLines(raw);
  Entity e = ParseEntity(raw);
  EXPECT_EQ(e.Header("From"), "\"Example News\" <news@mail.example.com>");
  EXPECT_EQ(e.Header("To"), "\"Ann Lee\" <ann@example.org>");
  EXPECT_EQ(e.Header("Subject"), "Hello Ann");
  EXPECT_EQ(e.Header("Date"), "Tue, 24 Nov 2026 09:30:00 +0000");
  EXPECT_EQ(e.Header("Message-ID"), "<c42-r7@mail.example.com>");
  EXPECT_EQ(e.Header("MIME-Version"), "1.0");
  EXPECT_EQ(e.Header("Content-Type"), "text/plain; charset=UTF-8");
  EXPECT_EQ(e.Header("Content-Transfer-Encoding"), "quoted-printable");
  EXPECT_EQ(e.Count("List-Unsubscribe"), 0);
  EXPECT_EQ(e.Count("List-Unsubscribe-Post"), 0);
  EXPECT_EQ(e.Count("Reply-To"), 0);
  // The text's LF line breaks become CRLF.
  EXPECT_EQ(DecodeBody(e), "Hi Ann,\r\nwelcome.\r\n");
}

TEST(MimeTest, MultipartAlternativeWithTextThenHtml) {
  OutboundMessage m = Msg();
  m.text = "Plain body with = sign";
  m.html = "<p style=\"color:red\">Hi <b>Ann</b> &amp; caf\xc3\xa9</p>";
  std::string raw = Build(m);
  ExpectWellFormedLines(raw);
  Entity e = ParseEntity(raw);
  EXPECT_THAT(e.Header("Content-Type"), StartsWith("multipart/alternative; boundary=\"=_outflow_"));
  EXPECT_EQ(e.Count("Content-Transfer-Encoding"), 0);
  std::vector<Entity> parts = SplitMultipart(e);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].Header("Content-Type"), "text/plain; charset=UTF-8");
  EXPECT_EQ(parts[1].Header("Content-Type"), "text/html; charset=UTF-8");
  EXPECT_EQ(DecodeBody(parts[0]), m.text);
  EXPECT_EQ(DecodeBody(parts[1]), m.html);
  std::string ct = e.Header("Content-Type");
  std::string boundary = ct.substr(ct.find('"') + 1, ct.rfind('"') - ct.find('"') - 1);
  EXPECT_THAT(boundary, StartsWith("=_outflow_"));
  EXPECT_THAT(raw, ::testing::EndsWith("\r\n--" + boundary + "--\r\n"));
}

TEST(MimeTest, Utf8SubjectIsEncodedWordsThatDecode) {
  OutboundMessage m = Msg();
  m.subject =
      "Gr\xc3\xbc\xc3\x9f"
      "e aus M\xc3\xbcnchen \xf0\x9f\x8e\x89";  // Grüße aus München 🎉
  std::string raw = Build(m);
  Entity e = ParseEntity(raw);
  EXPECT_THAT(e.Header("Subject"), StartsWith("=?UTF-8?B?"));
  EXPECT_EQ(DecodeHeaderValue(e.Header("Subject")), m.subject);
}

TEST(MimeTest, LongUtf8SubjectFoldsIntoShortWordsSplitBetweenCharacters) {
  std::string subject;
  for (int i = 0; i < 150; ++i) subject += "\xc3\xa9\xe2\x82\xac";  // é€, 2 + 3 octets
  std::string encoded = EncodeUnstructuredHeader(subject, 9);
  size_t start = 0;
  int lines = 0;
  for (;;) {
    size_t eol = encoded.find("\r\n", start);
    std::string_view line = std::string_view(encoded).substr(start, eol == std::string::npos ? eol : eol - start);
    std::string_view word = line.substr(line.find("=?"));
    EXPECT_LE(word.size(), 75u);
    EXPECT_LE(line.size() + (lines == 0 ? 9 : 0), 78u);
    // Every word decodes to whole UTF-8 characters on its own.
    std::string decoded = DecodeHeaderValue(word);
    EXPECT_TRUE(decoded.size() % 5 == 0 || decoded.size() % 5 == 2 || decoded.size() % 5 == 3) << decoded.size();
    ++lines;
    if (eol == std::string::npos) break;
    EXPECT_EQ(encoded[eol + 2], ' ');
    start = eol + 2;
  }
  EXPECT_GT(lines, 10);
  EXPECT_EQ(DecodeHeaderValue(ParseEntity("Subject: " + encoded + "\r\n\r\n").Header("Subject")), subject);
}

TEST(MimeTest, AsciiSubjectStaysReadableUnlessItLooksLikeAnEncodedWord) {
  EXPECT_EQ(EncodeUnstructuredHeader("Your March invoice (#123)", 9), "Your March invoice (#123)");
  std::string tricky = "=?UTF-8?B?SGk=?= is not mine";
  std::string enc = EncodeUnstructuredHeader(tricky, 9);
  EXPECT_NE(enc, tricky);
  EXPECT_EQ(DecodeHeaderValue(enc), tricky);
  std::string tab = "a\tb";  // a control character: encoded
  EXPECT_EQ(DecodeHeaderValue(EncodeUnstructuredHeader(tab, 9)), tab);
}

TEST(MimeTest, VeryLongAsciiSubjectIsFoldedNotOverlong) {
  OutboundMessage m = Msg();
  m.subject = std::string(2000, 'x');
  std::string raw = Build(m);
  ExpectWellFormedLines(raw);
  EXPECT_EQ(DecodeHeaderValue(ParseEntity(raw).Header("Subject")), m.subject);
}

TEST(MimeTest, DisplayNames) {
  OutboundMessage m = Msg();
  m.to_name = "Ann \"The Boss\" Lee \\ Co";
  std::string raw = Build(m);
  EXPECT_EQ(ParseEntity(raw).Header("To"), "\"Ann \\\"The Boss\\\" Lee \\\\ Co\" <ann@example.org>");

  m.to_name = "Zo\xc3\xab Andr\xc3\xa9";  // Zoë André
  Entity e = ParseEntity(Build(m, {"a@b.example", "\xd0\x9d\xd0\xbe\xd0\xb2\xd0\xbe\xd1\x81\xd1\x82\xd0\xb8", ""}));
  std::string to = e.Header("To");
  EXPECT_THAT(to, StartsWith("=?UTF-8?B?"));
  EXPECT_EQ(DecodeHeaderValue(to.substr(0, to.find(" <"))), m.to_name);
  EXPECT_THAT(to, ::testing::EndsWith(" <ann@example.org>"));
  std::string from = e.Header("From");
  EXPECT_EQ(DecodeHeaderValue(from.substr(0, from.find(" <"))),
            "\xd0\x9d\xd0\xbe\xd0\xb2\xd0\xbe\xd1\x81\xd1\x82\xd0\xb8");

  m.to_name = "";
  EXPECT_EQ(ParseEntity(Build(m, {"a@b.example", "", ""})).Header("To"), "<ann@example.org>");
  EXPECT_EQ(ParseEntity(Build(m, {"a@b.example", "", ""})).Header("From"), "<a@b.example>");
}

TEST(MimeTest, ReplyToAndUnsubscribeHeaders) {
  OutboundMessage m = Msg();
  m.unsubscribe_url = "https://mail.example.com/u/abc123?c=42";
  Entity e = ParseEntity(Build(m, {"news@mail.example.com", "", "support@example.com"}));
  EXPECT_EQ(e.Header("Reply-To"), "<support@example.com>");
  EXPECT_EQ(e.Header("List-Unsubscribe"), "<https://mail.example.com/u/abc123?c=42>");
  EXPECT_EQ(e.Header("List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
}

TEST(MimeTest, DateFormat) {
  EXPECT_EQ(FormatRfc5322Date(kDate), "Tue, 24 Nov 2026 09:30:00 +0000");
  EXPECT_EQ(FormatRfc5322Date(FromMicros(1709251199LL * 1'000'000 + 999'999)), "Thu, 29 Feb 2024 23:59:59 +0000");
  EXPECT_EQ(FormatRfc5322Date(FromMicros(946598405LL * 1'000'000)), "Fri, 31 Dec 1999 00:00:05 +0000");
  EXPECT_EQ(FormatRfc5322Date(FromMicros(0)), "Thu, 01 Jan 1970 00:00:00 +0000");
}

TEST(MimeTest, MessageIdIsStableValidAndDistinctPerKey) {
  EXPECT_EQ(MessageIdFor("abc", "x@d.example"), "<abc@d.example>");
  EXPECT_EQ(MessageIdFor("campaign:12/contact 34", "x@d.example"), "<campaign=3A12/contact=2034@d.example>");
  // '=' itself is escaped so that escapes cannot collide with the key's own text.
  EXPECT_EQ(MessageIdFor("a=3A", "x@d"), "<a=3D3A@d>");
  EXPECT_NE(MessageIdFor("a:", "x@d"), MessageIdFor("a=3A", "x@d"));
  // Dots: kept inside, escaped at the edges and when doubled.
  EXPECT_EQ(MessageIdFor("a.b", "x@d"), "<a.b@d>");
  EXPECT_EQ(MessageIdFor(".a..b.", "x@d"), "<=2Ea.=2Eb=2E@d>");
  EXPECT_EQ(MessageIdFor("\xc3\xa9", "x@d"), "<=C3=A9@d>");
  // The header uses it, and the same message builds the same octets.
  OutboundMessage m = Msg();
  m.idempotency_key = "camp:1:rcpt:2";
  std::string a = Build(m);
  EXPECT_EQ(ParseEntity(a).Header("Message-ID"), MessageIdFor(m.idempotency_key, From().address));
  EXPECT_EQ(a, Build(m));
}

TEST(MimeTest, RefusesHeaderInjectionAndBadAddresses) {
  auto fails = [](const OutboundMessage& m, const MailFrom& f, std::string_view field) {
    auto r = BuildMimeMessage(m, f, kDate);
    EXPECT_FALSE(r.ok()) << field;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
      EXPECT_THAT(r.status().message(), StartsWith(std::string(field))) << r.status().message();
    }
  };
  OutboundMessage m = Msg();
  m.subject = "Hi\r\nBcc: victim@example.com";
  fails(m, From(), "subject");
  m = Msg();
  m.subject = "Hi\nBcc: victim@example.com";
  fails(m, From(), "subject");
  m = Msg();
  m.to_name = "Ann\rX";
  fails(m, From(), "to_name");
  m = Msg();
  m.to = "ann@example.org\r\nBcc: x@y";
  fails(m, From(), "to");
  m = Msg();
  m.to = "ann@example.org>, <x@y";
  fails(m, From(), "to");
  m = Msg();
  m.to = "not-an-address";
  fails(m, From(), "to");
  m = Msg();
  m.to = "a@b@c";
  fails(m, From(), "to");
  m = Msg();
  m.unsubscribe_url = "https://x/u\r\nBcc: x@y";
  fails(m, From(), "unsubscribe_url");
  m = Msg();
  m.unsubscribe_url = "https://x/u> <mailto:x@y";
  fails(m, From(), "unsubscribe_url");
  m = Msg();
  m.idempotency_key = "";
  fails(m, From(), "idempotency_key");
  fails(Msg(), {"news@x.example", "News\nX", ""}, "from_name");
  fails(Msg(), {"", "News", ""}, "from_address");
  fails(Msg(), {"news@x.example", "News", "a\r\n@b"}, "reply_to");
}

TEST(MimeTest, QuotedPrintableRules) {
  // '=' and non-ASCII escaped, trailing whitespace escaped, lines soft-broken at 76.
  EXPECT_EQ(EncodeQuotedPrintable("a=b"), "a=3Db");
  EXPECT_EQ(EncodeQuotedPrintable("caf\xc3\xa9"), "caf=C3=A9");
  EXPECT_EQ(EncodeQuotedPrintable("end \nnext\t"), "end=20\r\nnext=09");
  EXPECT_EQ(EncodeQuotedPrintable("a b"), "a b");
  std::string long_line(300, 'x');
  std::string qp = EncodeQuotedPrintable(long_line);
  size_t start = 0;
  for (size_t eol = qp.find("\r\n"); eol != std::string::npos; eol = qp.find("\r\n", start)) {
    EXPECT_LE(eol - start, 76u);
    EXPECT_EQ(qp[eol - 1], '=');
    start = eol + 2;
  }
  EXPECT_EQ(DecodeQuotedPrintable(qp), long_line);
}

TEST(MimeTest, QuotedPrintableRoundTripsRandomText) {
  std::mt19937 rng(7);
  const std::string alphabet = std::string("abc =\t.-") + "\xc3\xa9" + "\n" + "\r\n";
  for (int round = 0; round < 200; ++round) {
    std::string text;
    int n = static_cast<int>(rng() % 400);
    for (int i = 0; i < n; ++i) text += alphabet[rng() % alphabet.size()];
    std::string qp = EncodeQuotedPrintable(text);
    // Every line ends in CRLF-or-end and is at most 76 octets; no bare CR/LF.
    size_t start = 0;
    for (size_t eol = qp.find("\r\n"); eol != std::string::npos; eol = qp.find("\r\n", start)) {
      ASSERT_LE(eol - start, 76u) << qp;
      ASSERT_TRUE(eol == start || (qp[eol - 1] != ' ' && qp[eol - 1] != '\t')) << "trailing whitespace";
      start = eol + 2;
    }
    // Expected decode: line breaks normalised to CRLF.
    std::string expected;
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
      if (text[i] == '\n' || text[i] == '\r') {
        expected += "\r\n";
      } else {
        expected += text[i];
      }
    }
    ASSERT_EQ(DecodeQuotedPrintable(qp), expected) << qp;
  }
}

TEST(MimeTest, NonLatinBodiesUseBase64) {
  OutboundMessage m = Msg();
  m.text = "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, \xd0\x90\xd0\xbd\xd0\xbd\xd0\xb0! ";  // Привет, Анна!
  for (int i = 0; i < 5; ++i) m.text += m.text;
  m.html = "<p>\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96\xe7\x95\x8c</p>";  // 你好世界
  std::string raw = Build(m);
  ExpectWellFormedLines(raw);
  std::vector<Entity> parts = SplitMultipart(ParseEntity(raw));
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].Header("Content-Transfer-Encoding"), "base64");
  EXPECT_EQ(parts[1].Header("Content-Transfer-Encoding"), "base64");
  EXPECT_EQ(DecodeBody(parts[0]), m.text);
  EXPECT_EQ(DecodeBody(parts[1]), m.html);
  for (size_t start = 0, eol; (eol = parts[0].body.find("\r\n", start)) != std::string::npos; start = eol + 2) {
    EXPECT_LE(eol - start, 76u);
  }
}

TEST(MimeTest, LongHtmlLineStaysWithinLineLimits) {
  OutboundMessage m = Msg();
  m.html = "<table>";
  for (int i = 0; i < 500; ++i) m.html += "<tr><td style=\"padding:0\">cell</td></tr>";
  m.html += "</table>";
  std::string raw = Build(m);
  ExpectWellFormedLines(raw);
  std::vector<Entity> parts = SplitMultipart(ParseEntity(raw));
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[1].Header("Content-Transfer-Encoding"), "quoted-printable");
  EXPECT_EQ(DecodeBody(parts[1]), m.html);
}

TEST(MimeTest, BoundaryNeverAppearsInTheEncodedParts) {
  OutboundMessage m = Msg();
  m.text = "--=_outflow_ sneaky boundary-like text =_outflow_";
  m.html = m.text;
  std::string raw = Build(m);
  Entity e = ParseEntity(raw);
  std::string ct = e.Header("Content-Type");
  std::string boundary = ct.substr(ct.find('"') + 1, ct.rfind('"') - ct.find('"') - 1);
  std::vector<Entity> parts = SplitMultipart(e);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_THAT(parts[0].body, Not(HasSubstr(boundary)));
  EXPECT_EQ(DecodeBody(parts[0]), m.text);
}

TEST(MimeTest, Base64Encoders) {
  EXPECT_EQ(EncodeBase64(""), "");
  EXPECT_EQ(EncodeBase64("f"), "Zg==");
  EXPECT_EQ(EncodeBase64("fo"), "Zm8=");
  EXPECT_EQ(EncodeBase64("foo"), "Zm9v");
  EXPECT_EQ(EncodeBase64("foobar"), "Zm9vYmFy");
  std::string data(1000, '\xff');
  std::string lines = EncodeBase64Lines(data);
  EXPECT_EQ(DecodeBase64(lines), data);
  EXPECT_EQ(lines.substr(76, 2), "\r\n");
}

}  // namespace
}  // namespace outflow::channels
