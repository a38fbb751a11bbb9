// HttpProviderSender against tests/fakes/provider_fake.py, a real HTTP server on
// 127.0.0.1 with fake WhatsApp Cloud API, Twilio and custom endpoints, started per
// test and stopped by closing its stdin. The fake records every request (method,
// path, headers, body, TCP connection number) to a JSONL file before it replies,
// so a test reads what was sent as soon as SendBatch returns.
#include "channels/http_provider/http_provider_sender.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <set>

#include "base/clock.h"
#include "channels/testing/provider_fake.h"
#include "testing/loopback_policy.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace outflow::channels {
namespace {

namespace json = boost::json;
using test_support::Fake;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const Timestamp kNow = FromMicros(1795512600LL * 1'000'000);  // Tue, 24 Nov 2026 09:30:00 GMT
constexpr const char* kTwilioSid = "AC00000000000000000000000000000001";
// base64("AC00000000000000000000000000000001:twilio-test-token")
constexpr const char* kTwilioBasic = "Basic QUMwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMTp0d2lsaW8tdGVzdC10b2tlbg==";

std::unique_ptr<ChannelSender> Make(const std::string& settings, const std::string& credentials, Clock& clock) {
  auto r = MakeHttpProviderSender(json::parse(settings).as_object(), json::parse(credentials).as_object(), clock,
                                  outflow::testing::LoopbackAllowed());
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

std::unique_ptr<ChannelSender> WhatsApp(const Fake& fake, Clock& clock, const std::string& token = "wa-test-token",
                                        const std::string& extra = "") {
  return Make(R"({"preset": "whatsapp_cloud", "phone_number_id": "1234567890", "base_url": ")" + fake.Base() + "\"" +
                  extra + "}",
              R"({"access_token": ")" + token + "\"}", clock);
}

std::unique_ptr<ChannelSender> Twilio(const Fake& fake, Clock& clock, const std::string& token = "twilio-test-token",
                                      const std::string& sender = R"("from": "+15550100")") {
  return Make(R"({"preset": "twilio_sms", "account_sid": ")" + std::string(kTwilioSid) + R"(", "base_url": ")" +
                  fake.Base() + "\", " + sender + "}",
              R"({"auth_token": ")" + token + "\"}", clock);
}

OutboundMessage Msg(std::string key, std::string to, std::string text = "Hello") {
  OutboundMessage m;
  m.idempotency_key = std::move(key);
  m.to = std::move(to);
  m.text = std::move(text);
  return m;
}

std::string Header(const json::object& request, const char* name) {
  const json::object& h = request.at("headers").as_object();
  auto it = h.find(name);
  return it == h.end() ? "<absent>" : std::string(it->value().as_string());
}

std::map<std::string, std::string> ParseForm(std::string_view body) {
  std::map<std::string, std::string> out;
  auto decode = [](std::string_view s) {
    std::string r;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '+') {
        r += ' ';
      } else if (s[i] == '%' && i + 2 < s.size()) {
        r += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else {
        r += s[i];
      }
    }
    return r;
  };
  size_t pos = 0;
  while (pos <= body.size()) {
    size_t amp = body.find('&', pos);
    std::string_view pair = body.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
    size_t eq = pair.find('=');
    out[decode(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : decode(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    pos = amp + 1;
  }
  return out;
}

// ---------------------------------------------------------------------------

TEST(HttpProviderSenderTest, WhatsAppTextRequestShapeAndIds) {
  Fake fake;
  ASSERT_TRUE(fake.Ok());
  FakeClock clock(kNow);
  auto sender = WhatsApp(fake, clock);
  ASSERT_NE(sender, nullptr);
  std::vector<OutboundMessage> batch = {
      Msg("k-1", "+15550001", "Hi \"Ann\",\nyour code is 42\t\\ done"),
      Msg("k-2", "+15550002", "caf\xc3\xa9 \xf0\x9f\x8e\x89 \x01 bad:\xff\xfe end"),
      Msg("k-3", "+15550003", "{{not a placeholder}} in the text"),
  };
  std::vector<SendResult> r = sender->SendBatch(batch);
  ASSERT_EQ(r.size(), 3u);
  std::vector<json::object> reqs = fake.Requests();
  ASSERT_EQ(reqs.size(), 3u);
  std::map<std::string, json::object> by_key;
  for (const auto& q : reqs) by_key[Header(q, "idempotency-key")] = q;
  for (size_t i = 0; i < batch.size(); ++i) {
    SCOPED_TRACE(batch[i].idempotency_key);
    ASSERT_EQ(r[i].outcome, SendOutcome::kSent) << r[i].error;
    EXPECT_THAT(r[i].provider_id, StartsWith("wamid."));
    ASSERT_TRUE(by_key.count(batch[i].idempotency_key));
    const json::object& q = by_key[batch[i].idempotency_key];
    EXPECT_EQ(q.at("method").as_string(), "POST");
    EXPECT_EQ(q.at("path").as_string(), "/v19.0/1234567890/messages");
    EXPECT_EQ(Header(q, "authorization"), "Bearer wa-test-token");
    EXPECT_EQ(Header(q, "content-type"), "application/json");
    EXPECT_EQ(Header(q, "expect"), "<absent>");
    json::value body = json::parse(q.at("body").as_string());
    std::string expected_text = batch[i].text;
    if (i == 1) expected_text = "caf\xc3\xa9 \xf0\x9f\x8e\x89 \x01 bad:\xef\xbf\xbd\xef\xbf\xbd end";  // U+FFFD
    json::value expected = {
        {"messaging_product", "whatsapp"}, {"to", batch[i].to}, {"type", "text"}, {"text", {{"body", expected_text}}}};
    EXPECT_EQ(body, expected) << q.at("body").as_string();
  }
  // Ids are the ones the provider returned, one per message.
  std::set<std::string> ids;
  for (const auto& x : r) ids.insert(x.provider_id);
  EXPECT_EQ(ids.size(), 3u);
}

TEST(HttpProviderSenderTest, WhatsAppTemplateMessage) {
  Fake fake;
  ASSERT_TRUE(fake.Ok());
  FakeClock clock(kNow);
  auto sender = WhatsApp(fake, clock, "wa-test-token",
                         R"(, "message_type": "template", "template": {"name": "order_ready", "language": "en_US",
                             "body_params": ["first_name", "order"]})");
  ASSERT_NE(sender, nullptr);
  OutboundMessage m = Msg("t-1", "+15550001", "ignored");
  m.vars = {{"first_name", "Ann"}, {"order", "#42"}};
  std::vector<SendResult> r = sender->SendBatch(std::vector<OutboundMessage>{m});
  ASSERT_EQ(r[0].outcome, SendOutcome::kSent) << r[0].error;
  EXPECT_THAT(r[0].provider_id, StartsWith("wamid."));
  json::value body = json::parse(fake.Requests().at(0).at("body").as_string());
  json::value expected = json::parse(R"({"messaging_product": "whatsapp", "to": "+15550001", "type": "template",
      "template": {"name": "order_ready", "language": {"code": "en_US"},
                   "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ann"},
                                                                  {"type": "text", "text": "#42"}]}]}})");
  EXPECT_EQ(body, expected);
}

TEST(HttpProviderSenderTest, TwilioFormRequestShapeAndIds) {
  Fake fake;
  ASSERT_TRUE(fake.Ok());
  FakeClock clock(kNow);
  auto sender = Twilio(fake, clock);
  ASSERT_NE(sender, nullptr);
  std::vector<OutboundMessage> batch = {Msg("tw-1", "+15550001", "Hi Ann & Bob = 100% +more caf\xc3\xa9\nline 2"),
                                        Msg("tw-2", "+15550002", "second")};
  std::vector<SendResult> r = sender->SendBatch(batch);
  std::vector<json::object> reqs = fake.Requests();
  ASSERT_EQ(reqs.size(), 2u);
  for (size_t i = 0; i < batch.size(); ++i) {
    ASSERT_EQ(r[i].outcome, SendOutcome::kSent) << r[i].error;
    EXPECT_THAT(r[i].provider_id, StartsWith("SM"));
    EXPECT_EQ(r[i].provider_id.size(), 34u);
  }
  for (const json::object& q : reqs) {
    std::string key = Header(q, "idempotency-key");
    const OutboundMessage& m = key == "tw-1" ? batch[0] : batch[1];
    EXPECT_EQ(q.at("path").as_string(), "/2010-04-01/Accounts/" + std::string(kTwilioSid) + "/Messages.json");
    EXPECT_EQ(Header(q, "authorization"), kTwilioBasic);
    EXPECT_EQ(Header(q, "content-type"), "application/x-www-form-urlencoded");
    EXPECT_EQ(Header(q, "i-twilio-idempotency-token"), m.idempotency_key);
    std::string raw(q.at("body").as_string());
    EXPECT_THAT(raw, StartsWith("To=%2B1555000"));  // form encoding, '+' escaped
    std::map<std::string, std::string> form = ParseForm(raw);
    EXPECT_EQ(form, (std::map<std::string, std::string>{{"To", m.to}, {"From", "+15550100"}, {"Body", m.text}}));
  }
}

TEST(HttpProviderSenderTest, TwilioWithAMessagingService) {
  Fake fake;
  ASSERT_TRUE(fake.Ok());
  FakeClock clock(kNow);
  auto sender =
      Twilio(fake, clock, "twilio-test-token", R"("messaging_service_sid": "MG00000000000000000000000000000002")");
  ASSERT_NE(sender, nullptr);
  std::vector<SendResult> r = sender->SendBatch(std::vector<OutboundMessage>{Msg("ms-1", "+15550001")});
  ASSERT_EQ(r[0].outcome, SendOutcome::kSent) << r[0].error;
  auto form = ParseForm(fake.Requests().at(0).at("body").as_string());
  EXPECT_EQ(form["MessagingServiceSid"], "MG00000000000000000000000000000002");
  EXPECT_EQ(form.count("From"), 0u);
}

TEST(HttpProviderSenderTest, WhatsAppErrorsAreClassified) {
  Fake fake;
  ASSERT_TRUE(fake.Ok());
  fake.Control(R"({"rules": [
      {"to": "+1555000400", "status": 400, "code": 131026, "message": "Message undeliverable"},
      {"to": "+1555000429", "status": 429, "retry_after": "7"},
      {"to": "+1555000500", "status": 500},
      {"to": "+1555000503", "status": 503, "retry_after": "Tue, 24 Nov 2026 09:32:00 GMT"},
      {"to": "+1555131056", "status": 400, "code": 131056, "message": "(Business Account, Consumer Account) pair rate limit hit"}]})");
  FakeClock clock(kNow);
  auto sender = WhatsApp(fake, clock);
  ASSERT_NE(sender, nullptr);
  std::vector<OutboundMessage> batch = {
      Msg("e1", "+1555000400"), Msg("e2", "+1555000429"),     Msg("e3", "+1555000500"), Msg("e4", "+1555000503"),
      Msg("e5", "+1555131056"), Msg("e6", "+1555000600", ""),  // the fake's own validation: no text body
      Msg("e7", "+1555000700")};
  std::vector<SendResult> r = sender->SendBatch(batch);
  ASSERT_EQ(r.size(), batch.size());
  EXPECT_EQ(r[0].outcome, SendOutcome::kPermanent);
  EXPECT_EQ(r[0].error, "HTTP 400: (#131026) Message undeliverable (code 131026)");
  EXPECT_FALSE(r[0].retry_after.has_value());

  EXPECT_EQ(r[1].outcome, SendOutcome::kTransient);
  EXPECT_EQ(r[1].error, "HTTP 429: (#130429) Too Many Requests (code 130429)");
  EXPECT_EQ(r[1].retry_after, std::chrono::seconds(7));

  EXPECT_EQ(r[2].outcome, SendOutcome::kTransient);
  EXPECT_THAT(r[2].error, StartsWith("HTTP 500: "));
  EXPECT_FALSE(r[2].retry_after.has_value());

  EXPECT_EQ(r[3].outcome, SendOutcome::kTransient);
  EXPECT_EQ(r[3].retry_after, std::chrono::seconds(120));  // an HTTP date, against the injected clock

  EXPECT_EQ(r[4].outcome, SendOutcome::kTransient) << "131056 is a rate limit even with HTTP 400";
  EXPECT_THAT(r[4].error, HasSubstr("(code 131056)"));

  EXPECT_EQ(r[5].outcome, SendOutcome::kPermanent);
  EXPECT_EQ(r[5].error, "HTTP 400: (#100) The parameter text['body'] is required. (code 100)");

  EXPECT_EQ(r[6].outcome, SendOutcome::kSent) << r[6].error;
}

TEST(HttpProviderSenderTest, TwilioErrorsAreClassified) {
  Fake fake;
  ASSERT_TRUE(fake.Ok());
  fake.Control(R"({"rules": [{"to": "+1555000429", "status": 429, "retry_after": "3"}]})");
  FakeClock clock(kNow);
  auto sender = Twilio(fake, clock);
  ASSERT_NE(sender, nullptr);
  std::vector<SendResult> r = sender->SendBatch(
      std::vector<OutboundMessage>{Msg("t1", "12345"), Msg("t2", "+1555000429"), Msg("t3", "+1555000001", "")});
  EXPECT_EQ(r[0].outcome, SendOutcome::kPermanent);
  EXPECT_EQ(r[0].error, "HTTP 400: Invalid 'To' Phone Number: 12345 (code 21211)");
  EXPECT_EQ(r[1].outcome, SendOutcome::kTransient);
  EXPECT_EQ(r[1].error, "HTTP 429: Too Many Requests (code 20429)");
  EXPECT_EQ(r[1].retry_after, std::chrono::seconds(3));
  EXPECT_EQ(r[2].outcome, SendOutcome::kPermanent);
  EXPECT_EQ(r[2].error, "HTTP 400: Message body is required. (code 21602)");
}

TEST(HttpProviderSenderTest, BadCredentialsArePermanentAndVerifyDetectsThem) {
  Fake fake;
  ASSERT_TRUE(fake.Ok());
  FakeClock clock(kNow);
  EXPECT_OK(WhatsApp(fake, clock)->Verify());
  auto bad = WhatsApp(fake, clock, "expired-token");
  Status st = bad->Verify();
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.ToString();
  EXPECT_THAT(st.message(), HasSubstr("rejected the credentials: HTTP 401: Invalid OAuth access token"));
  EXPECT_THAT(st.message(), HasSubstr("(code 190)"));
  std::vector<SendResult> r = bad->SendBatch(std::vector<OutboundMessage>{Msg("b1", "+15550001")});
  EXPECT_EQ(r[0].outcome, SendOutcome::kPermanent);
  EXPECT_EQ(r[0].error, "HTTP 401: Invalid OAuth access token - Cannot parse access token (code 190)");

  EXPECT_OK(Twilio(fake, clock)->Verify());
  st = Twilio(fake, clock, "wrong")->Verify();
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.ToString();
  EXPECT_THAT(st.message(), HasSubstr("HTTP 401: Authenticate (code 20003)"));

  // The verify requests were GETs of the documented resources.
  std::set<std::string> verify_paths;
  for (const auto& q : fake.Requests()) {
    if (q.at("method").as_string() == "GET") verify_paths.insert(std::string(q.at("path").as_string()));
  }
  EXPECT_EQ(verify_paths,
            (std::set<std::string>{"/v19.0/1234567890", "/2010-04-01/Accounts/" + std::string(kTwilioSid) + ".json"}));
}

TEST(HttpProviderSenderTest, TimeoutsDropsAndUnreachableAreTransient) {
  Fake fake;
  ASSERT_TRUE(fake.Ok());
  fake.Control(R"({"rules": [{"to": "+1555000001", "delay_ms": 3000}, {"to": "+1555000002", "drop": true}]})");
  FakeClock clock(kNow);
  auto sender = WhatsApp(fake, clock, "wa-test-token", R"(, "timeout_ms": 300)");
  ASSERT_NE(sender, nullptr);
  auto start = std::chrono::steady_clock::now();
  std::vector<SendResult> r = sender->SendBatch(
      std::vector<OutboundMessage>{Msg("s1", "+1555000001"), Msg("s2", "+1555000002"), Msg("s3", "+1555000003")});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_EQ(r[0].outcome, SendOutcome::kTransient);
  EXPECT_THAT(r[0].error, HasSubstr("timed out"));
  EXPECT_EQ(r[1].outcome, SendOutcome::kTransient);
  EXPECT_THAT(r[1].error, StartsWith("request failed: "));
  EXPECT_EQ(r[2].outcome, SendOutcome::kSent) << r[2].error;

  // Nothing listens on a port that is bound but not listening.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  std::string dead = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  auto unreachable = Make(R"({"preset": "whatsapp_cloud", "phone_number_id": "1", "base_url": ")" + dead + "\"}",
                          R"({"access_token": "x"})", clock);
  ASSERT_NE(unreachable, nullptr);
  r = unreachable->SendBatch(std::vector<OutboundMessage>{Msg("u1", "+15550001")});
  EXPECT_EQ(r[0].outcome, SendOutcome::kTransient);
  Status st = unreachable->Verify();
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.ToString();
  close(fd);
}

TEST(HttpProviderSenderTest, FailNextAppliesToTheNextRequests) {
  Fake fake;
  ASSERT_TRUE(fake.Ok());
  fake.Control(R"({"fail_next": 2, "status": 503, "retry_after": "1"})");
  FakeClock clock(kNow);
  auto sender = WhatsApp(fake, clock, "wa-test-token", R"(, "concurrency": 1)");
  ASSERT_NE(sender, nullptr);
  std::vector<SendResult> r = sender->SendBatch(
      std::vector<OutboundMessage>{Msg("f1", "+15550001"), Msg("f2", "+15550002"), Msg("f3", "+15550003")});
  EXPECT_EQ(r[0].outcome, SendOutcome::kTransient);
  EXPECT_EQ(r[0].retry_after, std::chrono::seconds(1));
  EXPECT_EQ(r[1].outcome, SendOutcome::kTransient);
  EXPECT_EQ(r[2].outcome, SendOutcome::kSent) << r[2].error;
}

TEST(HttpProviderSenderTest, RepeatedKeyIsRecognisedByTheProvider) {
  Fake fake;
  ASSERT_TRUE(fake.Ok());
  FakeClock clock(kNow);
  auto sender = WhatsApp(fake, clock);
  ASSERT_NE(sender, nullptr);
  std::vector<SendResult> first = sender->SendBatch(std::vector<OutboundMessage>{Msg("same", "+15550001")});
  std::vector<SendResult> again = sender->SendBatch(std::vector<OutboundMessage>{Msg("same", "+15550001")});
  ASSERT_EQ(first[0].outcome, SendOutcome::kSent);
  ASSERT_EQ(again[0].outcome, SendOutcome::kSent);
  EXPECT_EQ(first[0].provider_id, again[0].provider_id);
  json::object stats = fake.Stats();
  EXPECT_EQ(stats.at("sent").as_int64(), 1);
  EXPECT_EQ(stats.at("duplicates").as_int64(), 1);
}

TEST(HttpProviderSenderTest, ReusesAtMostConcurrencyConnectionsAcrossBatches) {
  Fake fake;
  ASSERT_TRUE(fake.Ok());
  FakeClock clock(kNow);
  auto sender = WhatsApp(fake, clock, "wa-test-token", R"(, "concurrency": 8)");
  ASSERT_NE(sender, nullptr);
  std::vector<OutboundMessage> batch;
  batch.reserve(1000);
  for (int i = 0; i < 1000; ++i) batch.push_back(Msg("r" + std::to_string(i), "+1555" + std::to_string(1000000 + i)));
  for (const SendResult& x : sender->SendBatch(batch)) ASSERT_EQ(x.outcome, SendOutcome::kSent) << x.error;
  batch.resize(200);
  for (auto& m : batch) m.idempotency_key += "-b";
  for (const SendResult& x : sender->SendBatch(batch)) ASSERT_EQ(x.outcome, SendOutcome::kSent) << x.error;

  json::object stats = fake.Stats();
  EXPECT_EQ(stats.at("requests").as_int64(), 1200);
  // The stats call itself is one more connection.
  EXPECT_LE(stats.at("connections").as_int64(), 8 + 1);
  std::set<int64_t> connections;
  std::set<std::string> keys;
  for (const auto& q : fake.Requests()) {
    connections.insert(q.at("connection").as_int64());
    keys.insert(Header(q, "idempotency-key"));
  }
  EXPECT_LE(connections.size(), 8u);
  EXPECT_GE(connections.size(), 2u) << "the batch was not sent concurrently";
  EXPECT_EQ(keys.size(), 1200u);
}

TEST(HttpProviderSenderTest, CustomJsonProvider) {
  Fake fake({"--custom-auth", "Bearer good-token"});
  ASSERT_TRUE(fake.Ok());
  FakeClock clock(kNow);
  std::string settings = R"({"preset": "http", "url": ")" + fake.Base() + R"(/custom/send",
      "headers": {"X-Api-Key": "k-123"}, "auth": "bearer", "id_pointer": "/data/id",
      "verify_url": ")" + fake.Base() +
                         R"(/custom/me",
      "body": {"recipient": "{{to}}", "message": "Hi {{ var.first_name }}: {{text}}",
               "meta": {"key": "{{idempotency_key}}", "n": 1, "names": ["{{to_name}}", "{{var.missing}}"]}}})";
  auto sender = Make(settings, R"({"token": "good-token"})", clock);
  ASSERT_NE(sender, nullptr);
  EXPECT_OK(sender->Verify());
  OutboundMessage m = Msg("c-1", "+15550001", "the \"text\"");
  m.to_name = "Ann";
  m.vars = {{"first_name", "Zo\xc3\xab"}};
  std::vector<SendResult> r = sender->SendBatch(std::vector<OutboundMessage>{m});
  ASSERT_EQ(r[0].outcome, SendOutcome::kSent) << r[0].error;
  EXPECT_THAT(r[0].provider_id, StartsWith("msg-"));
  json::object q = fake.Requests().back();
  EXPECT_EQ(q.at("path").as_string(), "/custom/send");
  EXPECT_EQ(Header(q, "x-api-key"), "k-123");
  EXPECT_EQ(Header(q, "authorization"), "Bearer good-token");
  EXPECT_EQ(Header(q, "idempotency-key"), "c-1");
  EXPECT_EQ(Header(q, "i-twilio-idempotency-token"), "<absent>");
  json::value expected = json::parse(R"({"recipient": "+15550001", "message": "Hi Zo\u00eb: the \"text\"",
      "meta": {"key": "c-1", "n": 1, "names": ["Ann", ""]}})");
  EXPECT_EQ(json::parse(q.at("body").as_string()), expected);

  Status st = Make(settings, R"({"token": "bad-token"})", clock)->Verify();
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.ToString();
  EXPECT_THAT(st.message(), HasSubstr("HTTP 401: unauthorized"));
}

TEST(HttpProviderSenderTest, ADestinationTheOutboundPolicyRefusesIsPermanentAndNothingIsSent) {
  Fake fake;
  ASSERT_TRUE(fake.Ok());
  FakeClock clock(kNow);
  const net::OutboundPolicy deny = net::OutboundPolicy::DenyPrivate();
  const std::string base = fake.Base();
  auto made = MakeHttpProviderSender(
      json::parse(R"({"preset": "http", "url": ")" + base + R"(/custom/send", "verify_url": ")" + base + R"(/me"})")
          .as_object(),
      json::object(), clock, deny);
  ASSERT_OK(made);
  std::vector<SendResult> r = (*made)->SendBatch(std::vector<OutboundMessage>{Msg("p-1", "+15550001")});
  EXPECT_EQ(r[0].outcome, SendOutcome::kPermanent) << r[0].error;
  EXPECT_THAT(r[0].error, StartsWith("destination 127.0.0.1 (loopback) is refused by the outbound policy"));
  Status st = (*made)->Verify();
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.ToString();
  EXPECT_THAT(st.message(), HasSubstr("(loopback) is refused by the outbound policy"));
  EXPECT_TRUE(fake.Requests().empty());
}

TEST(HttpProviderSenderTest, CustomFormProviderAndMissingIdIsStillSent) {
  Fake fake;
  ASSERT_TRUE(fake.Ok());
  FakeClock clock(kNow);
  std::string settings = R"({"preset": "http", "url": ")" + fake.Base() + R"js(/custom/form", "method": "PUT",
      "auth": "basic", "id_pointer": "/no/such/id",
      "form": {"phone": "{{to}}", "msg": "{{text}} ({{var.code}})", "fixed": "a b&c"}})js";
  auto sender = Make(settings, R"({"username": "u", "password": "p w"})", clock);
  ASSERT_NE(sender, nullptr);
  EXPECT_OK(sender->Verify());  // no verify_url: nothing to check
  OutboundMessage m = Msg("f-1", "+15550001", "x=1&y=2");
  m.vars = {{"code", "\xc3\xa9"}};
  std::vector<SendResult> r = sender->SendBatch(std::vector<OutboundMessage>{m});
  ASSERT_EQ(r[0].outcome, SendOutcome::kSent) << r[0].error;
  EXPECT_EQ(r[0].provider_id, "");
  json::object q = fake.Requests().back();
  EXPECT_EQ(q.at("method").as_string(), "PUT");
  EXPECT_EQ(Header(q, "authorization"), "Basic dTpwIHc=");  // u:p w
  EXPECT_EQ(Header(q, "content-type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(
      ParseForm(q.at("body").as_string()),
      (std::map<std::string, std::string>{{"phone", "+15550001"}, {"msg", "x=1&y=2 (\xc3\xa9)"}, {"fixed", "a b&c"}}));
}

TEST(HttpProviderSenderTest, AMessageWithoutAKeyFailsAlone) {
  Fake fake;
  ASSERT_TRUE(fake.Ok());
  FakeClock clock(kNow);
  auto sender = WhatsApp(fake, clock);
  ASSERT_NE(sender, nullptr);
  std::vector<SendResult> r = sender->SendBatch(
      std::vector<OutboundMessage>{Msg("", "+15550001"), Msg("a\r\nX-Evil: 1", "+15550002"), Msg("ok", "+15550003")});
  EXPECT_EQ(r[0].outcome, SendOutcome::kPermanent);
  EXPECT_EQ(r[1].outcome, SendOutcome::kPermanent);
  EXPECT_EQ(r[2].outcome, SendOutcome::kSent) << r[2].error;
  EXPECT_EQ(fake.Requests().size(), 1u);
}

TEST(HttpProviderSettingsTest, ErrorsNameTheField) {
  FakeClock clock(kNow);
  auto error = [&](const std::string& settings, const std::string& creds = "{}") {
    auto r = MakeHttpProviderSender(json::parse(settings).as_object(), json::parse(creds).as_object(), clock,
                                    outflow::testing::LoopbackAllowed());
    EXPECT_FALSE(r.ok()) << settings;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    return r.status().message();
  };
  EXPECT_THAT(error("{}"), StartsWith("settings.preset: is required"));
  EXPECT_THAT(error(R"({"preset": "sendgrid"})"), StartsWith("settings.preset: must be one of"));
  EXPECT_THAT(error(R"({"preset": "whatsapp_cloud"})", R"({"access_token": "t"})"),
              StartsWith("settings.phone_number_id: is required"));
  EXPECT_THAT(error(R"({"preset": "whatsapp_cloud", "phone_number_id": "1"})"),
              StartsWith("credentials.access_token: is required"));
  EXPECT_THAT(error(R"({"preset": "whatsapp_cloud", "phone_number_id": "1", "base_url": "ftp://x"})",
                    R"({"access_token": "t"})"),
              StartsWith("settings.base_url: "));
  EXPECT_THAT(error(R"({"preset": "whatsapp_cloud", "phone_number_id": "1", "message_type": "template"})",
                    R"({"access_token": "t"})"),
              StartsWith("settings.template: is required"));
  EXPECT_THAT(error(R"({"preset": "whatsapp_cloud", "phone_number_id": "1", "message_type": "template",
                        "template": {"name": "x", "language": "en", "colour": 1}})",
                    R"({"access_token": "t"})"),
              StartsWith("settings.template.colour: unknown field"));
  EXPECT_THAT(error(R"({"preset": "whatsapp_cloud", "phone_number_id": "1", "colour": 1})", R"({"access_token": "t"})"),
              StartsWith("settings.colour: unknown field"));
  EXPECT_THAT(
      error(R"({"preset": "whatsapp_cloud", "phone_number_id": "1", "concurrency": 0})", R"({"access_token": "t"})"),
      StartsWith("settings.concurrency: must be between 1 and 1024"));
  EXPECT_THAT(error(R"({"preset": "twilio_sms", "account_sid": "AC1"})", R"({"auth_token": "t"})"),
              StartsWith("settings.from: set exactly one of"));
  EXPECT_THAT(error(R"({"preset": "twilio_sms", "account_sid": "AC1", "from": "+1", "messaging_service_sid": "MG1"})",
                    R"({"auth_token": "t"})"),
              StartsWith("settings.from: set exactly one of"));
  EXPECT_THAT(error(R"({"preset": "twilio_sms", "account_sid": "XX1", "from": "+1"})", R"({"auth_token": "t"})"),
              StartsWith("settings.account_sid: "));
  EXPECT_THAT(error(R"({"preset": "twilio_sms", "account_sid": "AC1", "from": "+1"})"),
              StartsWith("credentials.auth_token: is required"));
  EXPECT_THAT(error(R"({"preset": "http", "url": "http://x", "body": {"a": "{{foo}}"}})"),
              StartsWith("settings.body: unknown placeholder {{foo}}"));
  EXPECT_THAT(error(R"({"preset": "http", "url": "http://x", "body": {"a": "{{to"}})"),
              StartsWith("settings.body: a placeholder"));
  EXPECT_THAT(error(R"({"preset": "http", "url": "http://x", "form": {"a": "{{var.}}"}})"),
              StartsWith("settings.form.a: unknown placeholder"));
  EXPECT_THAT(error(R"({"preset": "http", "url": "http://x", "body": {}, "form": {}})"), StartsWith("settings.form: "));
  EXPECT_THAT(error(R"({"preset": "http", "url": "http://x", "headers": {"Idempotency-Key": "x"}})"),
              StartsWith("settings.headers.Idempotency-Key: "));
  EXPECT_THAT(error(R"({"preset": "http", "url": "http://x", "headers": {"X": "a\r\nB: c"}})"),
              StartsWith("settings.headers.X: "));
  EXPECT_THAT(error(R"({"preset": "http", "url": "http://x", "auth": "bearer"})"),
              StartsWith("credentials.token: is required"));
  EXPECT_THAT(error(R"({"preset": "http", "url": "http://x", "auth": "digest"})"), StartsWith("settings.auth: "));
  EXPECT_THAT(error(R"({"preset": "http", "url": "http://x", "id_pointer": "id"})"),
              StartsWith("settings.id_pointer: "));
  EXPECT_THAT(error(R"({"preset": "http", "url": "http://x"})", R"({"token": "t"})"),
              StartsWith("credentials.token: unknown field"));
  EXPECT_THAT(error(R"({"preset": "http", "url": "x"})"), StartsWith("settings.url: "));
}

}  // namespace
}  // namespace outflow::channels
