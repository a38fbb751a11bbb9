// SmtpSender against a real SMTP server: tests/smtp/smtp_sink.py (aiosmtpd) on
// 127.0.0.1, started per test and stopped by closing its stdin. The sink stores
// every accepted message (raw text + envelope) as files; the tests read them back.
#include "channels/smtp/smtp_sender.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "base/clock.h"
#include "channels/smtp/mime.h"
#include "channels/smtp/mime_reader_for_test.h"
#include "channels/testing/child_process.h"
#include "testing/loopback_policy.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace outflow::channels {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace ::outflow::channels::mime_reader;  // NOLINT(google-build-using-namespace)
using test_support::ChildProcess;

const Timestamp kNow = FromMicros(1795512600LL * 1'000'000);  // Tue, 24 Nov 2026 09:30:00 +0000

bool HaveOpenssl() {
  return std::system("openssl version >/dev/null 2>&1") == 0;
}

// One running sink and the directory it writes to.
class Sink {
 public:
  explicit Sink(std::vector<std::string> flags) {
    std::vector<std::string> argv = test_support::PythonScriptArgv("tests/smtp/smtp_sink.py");
    argv.push_back(dir_.File("mail"));
    argv.insert(argv.end(), flags.begin(), flags.end());
    std::string error;
    child_ = ChildProcess::Start(argv, &error);
    if (!child_) {
      ADD_FAILURE() << error;
      return;
    }
    // Generating a TLS key takes a moment; 30 s bounds a broken sink.
    std::optional<std::string> line = child_->ReadLine(std::chrono::seconds(30));
    if (!line || line->empty()) {
      ADD_FAILURE() << "the SMTP sink did not print its port (is python3-aiosmtpd installed for " OUTFLOW_PYTHON "?)";
      return;
    }
    port_ = std::stoi(*line);
  }

  bool Ok() const { return port_ > 0; }
  int Port() const { return port_; }

  struct Stored {
    json::object envelope;
    std::string raw;
  };
  // Every stored message, keyed by its Message-ID header.
  std::map<std::string, Stored> Messages() const {
    std::map<std::string, Stored> out;
    std::filesystem::path mail = dir_.path() / "mail";
    if (!std::filesystem::exists(mail)) return out;
    for (const auto& entry : std::filesystem::directory_iterator(mail)) {
      if (entry.path().extension() != ".json") continue;
      Stored s;
      s.envelope = json::parse(Read(entry.path())).as_object();
      std::filesystem::path eml = entry.path();
      eml.replace_extension(".eml");
      s.raw = Read(eml);
      out[ParseEntity(s.raw).Header("Message-ID")] = std::move(s);
    }
    return out;
  }
  int Connections() const {
    std::filesystem::path f = dir_.path() / "mail" / "connections";
    return std::filesystem::exists(f) ? std::stoi(Read(f)) : 0;
  }

 private:
  static std::string Read(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  outflow::testing::TempDir dir_;
  std::optional<ChildProcess> child_;
  int port_ = 0;
};

SmtpSettings Settings(int port) {
  SmtpSettings s;
  s.host = "127.0.0.1";
  s.port = port;
  s.tls = SmtpSettings::Tls::kNone;
  s.username = "mailer";
  s.password = "s3cret";
  s.from_address = "news@mail.example.com";
  s.from_name = "Example News";
  s.connections = 4;
  s.timeout_ms = 10'000;
  return s;
}

OutboundMessage Msg(std::string key, std::string to) {
  OutboundMessage m;
  m.idempotency_key = std::move(key);
  m.to = std::move(to);
  m.to_name = "Ann Lee";
  m.subject = "Hello";
  m.text = "Hi,\nthis is the text.\n";
  return m;
}

// A TCP port on 127.0.0.1 that is bound but refuses connections (not listening),
// or accepts them into the backlog and never answers (listening, never accepted).
class DeadPort {
 public:
  explicit DeadPort(bool listen_without_accept) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    if (listen_without_accept) {
      EXPECT_EQ(listen(fd_, 16), 0);
    }
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~DeadPort() { close(fd_); }
  int Port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(SmtpSenderTest, SendsABatchThatTheServerStoresWithCorrectHeaders) {
  Sink sink({"--auth", "mailer:s3cret"});
  ASSERT_TRUE(sink.Ok());
  FakeClock clock(kNow);
  auto sender = MakeSmtpSender(Settings(sink.Port()), clock, outflow::testing::LoopbackAllowed());

  std::vector<OutboundMessage> batch;
  for (int i = 0; i < 12; ++i) {
    OutboundMessage m = Msg("camp:7:rcpt:" + std::to_string(i), "user" + std::to_string(i) + "@example.org");
    m.to_name = i % 2 ? "Zo\xc3\xab M\xc3\xbcller" : "Ann \"A\" Lee";
    m.subject = i % 3 ? "Gr\xc3\xbc\xc3\x9f"
                        "e, user " +
                            std::to_string(i) + " \xf0\x9f\x8e\x89"
                      : "Plain subject " + std::to_string(i);
    if (i % 2 == 0) m.html = "<p>Hello <b>user " + std::to_string(i) + "</b> &amp; caf\xc3\xa9</p>";
    if (i % 4 == 0) m.unsubscribe_url = "https://mail.example.com/u/" + std::to_string(i);
    // Lines that SMTP must dot-stuff survive the trip.
    if (i == 5) m.text = "line one\n.\n.hidden\n..two dots\nend";
    batch.push_back(m);
  }
  std::vector<SendResult> results = sender->SendBatch(batch);
  ASSERT_EQ(results.size(), batch.size());
  auto stored = sink.Messages();
  ASSERT_EQ(stored.size(), batch.size());

  for (size_t i = 0; i < batch.size(); ++i) {
    const OutboundMessage& m = batch[i];
    SCOPED_TRACE("message " + std::to_string(i));
    ASSERT_EQ(results[i].outcome, SendOutcome::kSent) << results[i].error;
    std::string id = MessageIdFor(m.idempotency_key, "news@mail.example.com");
    EXPECT_EQ(results[i].provider_id, id);
    ASSERT_TRUE(stored.count(id)) << id;
    const Sink::Stored& s = stored.at(id);
    EXPECT_EQ(s.envelope.at("mail_from").as_string(), "news@mail.example.com");
    ASSERT_EQ(s.envelope.at("rcpt_tos").as_array().size(), 1u);
    EXPECT_EQ(s.envelope.at("rcpt_tos").as_array()[0].as_string(), m.to);
    EXPECT_EQ(s.envelope.at("auth_login").as_string(), "mailer");

    ExpectWellFormedLines(s.raw);
    Entity e = ParseEntity(s.raw);
    EXPECT_EQ(e.Header("From"), "\"Example News\" <news@mail.example.com>");
    std::string to = e.Header("To");
    EXPECT_THAT(to, ::testing::EndsWith("<" + m.to + ">"));
    if (i % 2) {
      EXPECT_EQ(DecodeHeaderValue(to.substr(0, to.rfind(" <"))), m.to_name);
    } else {
      EXPECT_EQ(to, "\"Ann \\\"A\\\" Lee\" <" + m.to + ">");
    }
    EXPECT_EQ(DecodeHeaderValue(e.Header("Subject")), m.subject);
    EXPECT_EQ(e.Header("Date"), "Tue, 24 Nov 2026 09:30:00 +0000");
    EXPECT_EQ(e.Header("MIME-Version"), "1.0");
    if (m.unsubscribe_url.empty()) {
      EXPECT_EQ(e.Count("List-Unsubscribe"), 0);
    } else {
      EXPECT_EQ(e.Header("List-Unsubscribe"), "<" + m.unsubscribe_url + ">");
      EXPECT_EQ(e.Header("List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
    }
    std::string crlf_text;
    for (char c : m.text) crlf_text += c == '\n' ? std::string("\r\n") : std::string(1, c);
    if (m.html.empty()) {
      EXPECT_EQ(e.Header("Content-Type"), "text/plain; charset=UTF-8");
      // A message ends with CRLF: a text without a final line break gets one.
      EXPECT_EQ(DecodeBody(e), crlf_text.ends_with("\r\n") ? crlf_text : crlf_text + "\r\n");
    } else {
      EXPECT_THAT(e.Header("Content-Type"), StartsWith("multipart/alternative; boundary="));
      std::vector<Entity> parts = SplitMultipart(e);
      ASSERT_EQ(parts.size(), 2u);
      EXPECT_EQ(parts[0].Header("Content-Type"), "text/plain; charset=UTF-8");
      EXPECT_EQ(DecodeBody(parts[0]), crlf_text);
      EXPECT_EQ(parts[1].Header("Content-Type"), "text/html; charset=UTF-8");
      EXPECT_EQ(DecodeBody(parts[1]), m.html);
    }
  }
}

TEST(SmtpSenderTest, Classifies451AsTransientAnd550AsPermanentWithTheReply) {
  Sink sink({"--transient-rcpt", "^busy", "--permanent-rcpt", "^gone"});
  ASSERT_TRUE(sink.Ok());
  FakeClock clock(kNow);
  SmtpSettings s = Settings(sink.Port());
  s.username.clear();
  s.password.clear();
  auto sender = MakeSmtpSender(s, clock, outflow::testing::LoopbackAllowed());
  std::vector<OutboundMessage> batch = {Msg("k1", "ok1@example.org"), Msg("k2", "busy@example.org"),
                                        Msg("k3", "gone@example.org"), Msg("k4", "ok2@example.org")};
  std::vector<SendResult> r = sender->SendBatch(batch);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].outcome, SendOutcome::kSent) << r[0].error;
  EXPECT_EQ(r[1].outcome, SendOutcome::kTransient);
  EXPECT_EQ(r[1].error, "SMTP 451: 4.3.0 <busy@example.org>: Mailbox temporarily unavailable, try again later");
  EXPECT_TRUE(r[1].provider_id.empty());
  EXPECT_EQ(r[2].outcome, SendOutcome::kPermanent);
  EXPECT_EQ(r[2].error, "SMTP 550: 5.1.1 <gone@example.org>: Recipient address rejected: User unknown");
  EXPECT_EQ(r[3].outcome, SendOutcome::kSent) << r[3].error;
  auto stored = sink.Messages();
  EXPECT_EQ(stored.size(), 2u);
  EXPECT_TRUE(stored.count(MessageIdFor("k1", s.from_address)));
  EXPECT_TRUE(stored.count(MessageIdFor("k4", s.from_address)));
}

TEST(SmtpSenderTest, VerifyChecksTheLoginWithoutSending) {
  Sink sink({"--auth", "mailer:s3cret"});
  ASSERT_TRUE(sink.Ok());
  FakeClock clock(kNow);
  EXPECT_OK(MakeSmtpSender(Settings(sink.Port()), clock, outflow::testing::LoopbackAllowed())->Verify());

  SmtpSettings bad = Settings(sink.Port());
  bad.password = "wrong";
  auto sender = MakeSmtpSender(bad, clock, outflow::testing::LoopbackAllowed());
  Status st = sender->Verify();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("refused the login for user 'mailer'"));
  EXPECT_THAT(st.message(), HasSubstr("535 5.7.8 Authentication credentials invalid"));
  // Sending with the bad password fails permanently (5xx), naming the reply.
  std::vector<SendResult> r = sender->SendBatch(std::vector<OutboundMessage>{Msg("k", "a@example.org")});
  EXPECT_EQ(r[0].outcome, SendOutcome::kPermanent);
  EXPECT_THAT(r[0].error, HasSubstr("535"));
  // No credentials against a server that requires them: MAIL is refused (530).
  SmtpSettings none = Settings(sink.Port());
  none.username.clear();
  none.password.clear();
  r = MakeSmtpSender(none, clock, outflow::testing::LoopbackAllowed())
          ->SendBatch(std::vector<OutboundMessage>{Msg("k", "a@example.org")});
  EXPECT_EQ(r[0].outcome, SendOutcome::kPermanent);
  EXPECT_THAT(r[0].error, StartsWith("SMTP 530"));
  EXPECT_TRUE(sink.Messages().empty());
}

TEST(SmtpSenderTest, UnreachableServerIsTransientAndVerifySaysUnavailable) {
  DeadPort refused(/*listen_without_accept=*/false);
  FakeClock clock(kNow);
  auto sender = MakeSmtpSender(Settings(refused.Port()), clock, outflow::testing::LoopbackAllowed());
  Status st = sender->Verify();
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.ToString();
  EXPECT_THAT(st.message(), HasSubstr("cannot reach SMTP server 127.0.0.1:"));
  std::vector<SendResult> r = sender->SendBatch(std::vector<OutboundMessage>{Msg("k", "a@example.org")});
  EXPECT_EQ(r[0].outcome, SendOutcome::kTransient);
  EXPECT_THAT(r[0].error, StartsWith("SMTP transfer failed: "));
}

TEST(SmtpSenderTest, AServerTheOutboundPolicyRefusesIsPermanentAndGetsNoConnection) {
  Sink sink({"--auth", "mailer:s3cret"});
  ASSERT_TRUE(sink.Ok());
  FakeClock clock(kNow);
  const net::OutboundPolicy deny = net::OutboundPolicy::DenyPrivate();
  auto sender = MakeSmtpSender(Settings(sink.Port()), clock, deny);
  Status st = sender->Verify();
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.ToString();
  EXPECT_THAT(st.message(), HasSubstr("destination 127.0.0.1 (loopback) is refused by the outbound policy"));
  std::vector<SendResult> r = sender->SendBatch(std::vector<OutboundMessage>{Msg("k", "a@example.org")});
  EXPECT_EQ(r[0].outcome, SendOutcome::kPermanent);
  EXPECT_THAT(r[0].error, StartsWith("destination 127.0.0.1 (loopback) is refused"));
  EXPECT_TRUE(sink.Messages().empty());
  EXPECT_EQ(sink.Connections(), 0);
}

TEST(SmtpSenderTest, SilentServerTimesOutAsTransient) {
  DeadPort silent(/*listen_without_accept=*/true);  // connects, never greets
  FakeClock clock(kNow);
  SmtpSettings s = Settings(silent.Port());
  s.timeout_ms = 300;
  auto sender = MakeSmtpSender(s, clock, outflow::testing::LoopbackAllowed());
  auto start = std::chrono::steady_clock::now();
  std::vector<SendResult> r = sender->SendBatch(std::vector<OutboundMessage>{Msg("k", "a@example.org")});
  EXPECT_EQ(r[0].outcome, SendOutcome::kTransient);
  EXPECT_THAT(r[0].error, HasSubstr("timed out"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(SmtpSenderTest, ReusesAtMostConnectionsSessionsAcrossBatches) {
  Sink sink({"--auth", "mailer:s3cret"});
  ASSERT_TRUE(sink.Ok());
  FakeClock clock(kNow);
  SmtpSettings s = Settings(sink.Port());
  s.connections = 3;
  auto sender = MakeSmtpSender(s, clock, outflow::testing::LoopbackAllowed());
  std::vector<OutboundMessage> batch;
  batch.reserve(100);
  for (int i = 0; i < 100; ++i) batch.push_back(Msg("a" + std::to_string(i), "u" + std::to_string(i) + "@example.org"));
  for (const SendResult& r : sender->SendBatch(batch)) ASSERT_EQ(r.outcome, SendOutcome::kSent) << r.error;
  batch.clear();
  for (int i = 0; i < 30; ++i) batch.push_back(Msg("b" + std::to_string(i), "v" + std::to_string(i) + "@example.org"));
  for (const SendResult& r : sender->SendBatch(batch)) ASSERT_EQ(r.outcome, SendOutcome::kSent) << r.error;

  auto stored = sink.Messages();
  ASSERT_EQ(stored.size(), 130u);
  std::set<int64_t> sessions;
  for (const auto& [id, m] : stored) sessions.insert(m.envelope.at("connection").as_int64());
  EXPECT_LE(sessions.size(), 3u);
  EXPECT_LE(sink.Connections(), 3);
  // The batch really went out concurrently over more than one session.
  EXPECT_GE(sessions.size(), 2u);
}

TEST(SmtpSenderTest, AMessageThatCannotBeBuiltFailsAloneWithoutTraffic) {
  Sink sink({});
  ASSERT_TRUE(sink.Ok());
  FakeClock clock(kNow);
  SmtpSettings s = Settings(sink.Port());
  s.username.clear();
  s.password.clear();
  auto sender = MakeSmtpSender(s, clock, outflow::testing::LoopbackAllowed());
  std::vector<OutboundMessage> batch = {Msg("k1", "a@example.org"), Msg("k2", "b@example.org"),
                                        Msg("k3", "not an address")};
  batch[1].subject = "Hi\r\nBcc: victim@example.org";
  std::vector<SendResult> r = sender->SendBatch(batch);
  EXPECT_EQ(r[0].outcome, SendOutcome::kSent) << r[0].error;
  EXPECT_EQ(r[1].outcome, SendOutcome::kPermanent);
  EXPECT_THAT(r[1].error, HasSubstr("subject: contains a line break"));
  EXPECT_EQ(r[2].outcome, SendOutcome::kPermanent);
  EXPECT_THAT(r[2].error, HasSubstr("to: "));
  EXPECT_EQ(sink.Messages().size(), 1u);
}

TEST(SmtpSenderTest, StartTlsWithASelfSignedCertificate) {
  if (!HaveOpenssl()) GTEST_SKIP() << "openssl is not installed: cannot make a certificate";
  Sink sink({"--starttls", "--auth", "mailer:s3cret"});
  ASSERT_TRUE(sink.Ok());
  FakeClock clock(kNow);
  SmtpSettings s = Settings(sink.Port());
  s.tls = SmtpSettings::Tls::kStartTls;
  s.verify_peer = false;
  auto sender = MakeSmtpSender(s, clock, outflow::testing::LoopbackAllowed());
  EXPECT_OK(sender->Verify());
  std::vector<SendResult> r = sender->SendBatch(std::vector<OutboundMessage>{Msg("tls1", "a@example.org")});
  ASSERT_EQ(r[0].outcome, SendOutcome::kSent) << r[0].error;
  auto stored = sink.Messages();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_TRUE(stored.begin()->second.envelope.at("tls").as_bool());

  // Verifying the peer refuses the self-signed certificate.
  s.verify_peer = true;
  Status st = MakeSmtpSender(s, clock, outflow::testing::LoopbackAllowed())->Verify();
  EXPECT_EQ(st.code(), Code::kFailedPrecondition) << st.ToString();
  EXPECT_THAT(st.message(), HasSubstr("certificate"));
  r = MakeSmtpSender(s, clock, outflow::testing::LoopbackAllowed())
          ->SendBatch(std::vector<OutboundMessage>{Msg("tls2", "a@example.org")});
  EXPECT_EQ(r[0].outcome, SendOutcome::kTransient);

  // Without TLS the server refuses to go on: 530 is permanent.
  s.tls = SmtpSettings::Tls::kNone;
  r = MakeSmtpSender(s, clock, outflow::testing::LoopbackAllowed())
          ->SendBatch(std::vector<OutboundMessage>{Msg("tls3", "a@example.org")});
  EXPECT_EQ(r[0].outcome, SendOutcome::kPermanent) << r[0].error;
  EXPECT_THAT(r[0].error, StartsWith("SMTP 530"));
  EXPECT_EQ(sink.Messages().size(), 1u);
}

TEST(SmtpSenderTest, ImplicitTls) {
  if (!HaveOpenssl()) GTEST_SKIP() << "openssl is not installed: cannot make a certificate";
  Sink sink({"--implicit-tls", "--auth", "mailer:s3cret"});
  ASSERT_TRUE(sink.Ok());
  FakeClock clock(kNow);
  SmtpSettings s = Settings(sink.Port());
  s.tls = SmtpSettings::Tls::kImplicit;
  s.verify_peer = false;
  auto sender = MakeSmtpSender(s, clock, outflow::testing::LoopbackAllowed());
  EXPECT_OK(sender->Verify());
  std::vector<SendResult> r = sender->SendBatch(std::vector<OutboundMessage>{Msg("imp", "a@example.org")});
  ASSERT_EQ(r[0].outcome, SendOutcome::kSent) << r[0].error;
  auto stored = sink.Messages();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_TRUE(stored.begin()->second.envelope.at("tls").as_bool());
}

TEST(SmtpSettingsTest, ParsesSettingsAndCredentials) {
  json::object settings = json::parse(R"({"host": "smtp.example.com", "tls": "implicit",
      "from_address": "news@example.com", "from_name": "News", "reply_to": "help@example.com",
      "connections": 8, "timeout_ms": 5000, "verify_peer": false, "helo_domain": "mx.example.com"})")
                              .as_object();
  json::object creds = json::parse(R"({"username": "u", "password": "p"})").as_object();
  ASSERT_OK_AND_ASSIGN(SmtpSettings s, ParseSmtpSettings(settings, creds));
  EXPECT_EQ(s.host, "smtp.example.com");
  EXPECT_EQ(s.port, 465);
  EXPECT_EQ(s.tls, SmtpSettings::Tls::kImplicit);
  EXPECT_EQ(s.from_name, "News");
  EXPECT_EQ(s.reply_to, "help@example.com");
  EXPECT_EQ(s.connections, 8);
  EXPECT_EQ(s.timeout_ms, 5000);
  EXPECT_FALSE(s.verify_peer);
  EXPECT_EQ(s.helo_domain, "mx.example.com");
  EXPECT_EQ(s.username, "u");
  EXPECT_EQ(s.password, "p");

  ASSERT_OK_AND_ASSIGN(SmtpSettings d,
                       ParseSmtpSettings(json::parse(R"({"host": "h", "from_address": "a@b.c"})").as_object(), {}));
  EXPECT_EQ(d.port, 587);
  EXPECT_EQ(d.tls, SmtpSettings::Tls::kStartTls);
  EXPECT_EQ(d.connections, 4);
  EXPECT_TRUE(d.verify_peer);
  EXPECT_TRUE(d.username.empty());
}

TEST(SmtpSettingsTest, ErrorsNameTheField) {
  auto error = [](const std::string& settings, const std::string& creds = "{}") {
    auto r = ParseSmtpSettings(json::parse(settings).as_object(), json::parse(creds).as_object());
    EXPECT_FALSE(r.ok()) << settings;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    return r.status().message();
  };
  EXPECT_THAT(error(R"({"from_address": "a@b.c"})"), StartsWith("settings.host: is required"));
  EXPECT_THAT(error(R"({"host": "h"})"), StartsWith("settings.from_address: is required"));
  EXPECT_THAT(error(R"({"host": "h", "from_address": "a@b.c", "port": 0})"), StartsWith("settings.port: "));
  EXPECT_THAT(error(R"({"host": "h", "from_address": "a@b.c", "port": "25"})"), StartsWith("settings.port: "));
  EXPECT_THAT(error(R"({"host": "h", "from_address": "a@b.c", "tls": "ssl"})"), StartsWith("settings.tls: "));
  EXPECT_THAT(error(R"({"host": "h", "from_address": "nope"})"), StartsWith("settings.from_address: "));
  EXPECT_THAT(error(R"({"host": "h", "from_address": "a@b.c", "connections": 1000})"),
              StartsWith("settings.connections: "));
  EXPECT_THAT(error(R"({"host": "h", "from_address": "a@b.c", "verify_peer": "no"})"),
              StartsWith("settings.verify_peer: "));
  EXPECT_THAT(error(R"({"host": "h", "from_address": "a@b.c", "colour": 1})"), StartsWith("settings.colour: unknown"));
  EXPECT_THAT(error(R"({"host": "h", "from_address": "a@b.c"})", R"({"username": "u"})"),
              StartsWith("credentials.password: "));
  EXPECT_THAT(error(R"({"host": "h", "from_address": "a@b.c"})", R"({"token": "u"})"),
              StartsWith("credentials.token: unknown"));
  EXPECT_THAT(error(R"({"host": "h\r\n", "from_address": "a@b.c"})"), StartsWith("settings.host: "));
}

}  // namespace
}  // namespace outflow::channels
