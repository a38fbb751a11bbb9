#include "sending/provider_callbacks.h"

#include <gtest/gtest.h>

#include "crypto/hmac.h"
#include "testing/status_matchers.h"

namespace outflow {
namespace {

Timestamp At(int64_t unix_seconds) {
  return Timestamp(std::chrono::seconds(unix_seconds));
}

// Twilio's documented example: auth token 12345, this URL and these parameters.
TEST(TwilioSignature, MatchesTwilioDocumentedExample) {
  const std::string url = "https://mycompany.com/myapp.php?foo=1&bar=2";
  const std::string body =
      "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212";
  EXPECT_TRUE(VerifyTwilioSignature(url, body, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "12345").ok());
  // Parameter order in the body does not matter: they are sorted.
  const std::string shuffled =
      "To=%2B18005551212&Digits=1234&CallSid=CA1234567890ABCDE&From=%2B14158675309&Caller=%2B14158675309";
  EXPECT_TRUE(VerifyTwilioSignature(url, shuffled, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "12345").ok());
}

TEST(TwilioSignature, RejectsMissingWrongAndForeignSignatures) {
  const std::string url = "https://mycompany.com/myapp.php?foo=1&bar=2";
  const std::string body =
      "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212";
  EXPECT_ERROR(VerifyTwilioSignature(url, body, "", "12345"), Code::kUnauthenticated, "missing");
  EXPECT_ERROR(VerifyTwilioSignature(url, body, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "54321"), Code::kUnauthenticated,
               "does not match");
  EXPECT_ERROR(VerifyTwilioSignature(url, body + "&Extra=1", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "12345"),
               Code::kUnauthenticated, "does not match");
  EXPECT_ERROR(VerifyTwilioSignature(url + "&x=3", body, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "12345"),
               Code::kUnauthenticated, "does not match");
}

TEST(TwilioStatus, MapsStatusesAndErrorCodes) {
  const Timestamp now = At(1'800'000'000);
  auto one = [&](std::string body) { return ParseTwilioStatus(body, now).value(); };
  auto d = one("MessageSid=SM1&MessageStatus=delivered&AccountSid=AC1");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].provider_id, "SM1");
  EXPECT_EQ(d[0].kind, MessageEventKind::kDelivered);
  EXPECT_TRUE(one("MessageSid=SM1&MessageStatus=sent").empty());
  EXPECT_TRUE(one("MessageSid=SM1&MessageStatus=queued").empty());
  auto hard = one("MessageSid=SM2&MessageStatus=undelivered&ErrorCode=30006");
  ASSERT_EQ(hard.size(), 1u);
  EXPECT_EQ(hard[0].kind, MessageEventKind::kBounced);
  EXPECT_TRUE(hard[0].permanent);
  EXPECT_EQ(hard[0].detail, "undelivered (error 30006)");
  auto soft = one("MessageSid=SM3&MessageStatus=undelivered&ErrorCode=30003");
  EXPECT_EQ(soft[0].kind, MessageEventKind::kBounced);
  EXPECT_FALSE(soft[0].permanent);
  auto stop = one("MessageSid=SM4&MessageStatus=failed&ErrorCode=21610");
  EXPECT_EQ(stop[0].kind, MessageEventKind::kUnsubscribed);
  EXPECT_ERROR(ParseTwilioStatus("MessageStatus=delivered", now).status(), Code::kInvalidArgument,
               "MessageSid: is required");
  EXPECT_ERROR(ParseTwilioStatus("MessageSid=SM1", now).status(), Code::kInvalidArgument, "MessageStatus: is required");
}

TEST(MetaSignature, ChecksTheSha256OfTheRawBody) {
  const std::string body = R"({"object":"whatsapp_business_account","entry":[]})";
  const std::string good = "sha256=" + crypto::Hex(crypto::HmacSha256("app-secret", body));
  EXPECT_TRUE(VerifyMetaSignature(body, good, "app-secret").ok());
  EXPECT_ERROR(VerifyMetaSignature(body, "", "app-secret"), Code::kUnauthenticated, "missing");
  EXPECT_ERROR(VerifyMetaSignature(body, good.substr(7), "app-secret"), Code::kUnauthenticated, "sha256=");
  EXPECT_ERROR(VerifyMetaSignature(body + " ", good, "app-secret"), Code::kUnauthenticated, "does not match");
  EXPECT_ERROR(VerifyMetaSignature(body, good, "other"), Code::kUnauthenticated, "does not match");
}

TEST(WhatsAppStatuses, ReadsEveryStatusOfEveryChange) {
  const std::string body = R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[
    {"field":"messages","value":{"messaging_product":"whatsapp","statuses":[
      {"id":"wamid.A","status":"sent","timestamp":"1700000000","recipient_id":"1555"},
      {"id":"wamid.A","status":"delivered","timestamp":"1700000005","recipient_id":"1555"},
      {"id":"wamid.B","status":"read","timestamp":"1700000009"},
      {"id":"wamid.C","status":"failed","timestamp":"1700000010","errors":[{"code":131026,"title":"Message undeliverable"}]},
      {"id":"wamid.D","status":"failed","errors":[{"code":131050,"title":"User stopped marketing"}]},
      {"id":"wamid.E","status":"failed","errors":[{"code":131047,"title":"Re-engagement message"}]}]}},
    {"field":"messages","value":{"messages":[{"from":"1555","id":"wamid.in","type":"text"}]}}]}]})";
  const Timestamp now = At(1'800'000'000);
  auto s = ParseWhatsAppStatuses(body, now).value();
  ASSERT_EQ(s.size(), 5u);
  EXPECT_EQ(s[0].provider_id, "wamid.A");
  EXPECT_EQ(s[0].kind, MessageEventKind::kDelivered);
  EXPECT_EQ(s[0].at, At(1'700'000'005));
  EXPECT_EQ(s[1].kind, MessageEventKind::kOpened);
  EXPECT_EQ(s[2].kind, MessageEventKind::kBounced);
  EXPECT_TRUE(s[2].permanent);
  EXPECT_EQ(s[2].detail, "failed (error 131026: Message undeliverable)");
  EXPECT_EQ(s[3].kind, MessageEventKind::kUnsubscribed);
  EXPECT_EQ(s[3].at, now);  // no timestamp given
  EXPECT_EQ(s[4].kind, MessageEventKind::kBounced);
  EXPECT_FALSE(s[4].permanent);
  EXPECT_ERROR(ParseWhatsAppStatuses("[]", now).status(), Code::kInvalidArgument, "not a JSON object");
  EXPECT_ERROR(
      ParseWhatsAppStatuses(R"({"entry":[{"changes":[{"value":{"statuses":[{"status":"read"}]}}]}]})", now).status(),
      Code::kInvalidArgument, "entry[0].changes[0].value.statuses[0].id");
}

TEST(OutflowSignature, IsTimestampedAndBoundToTheBody) {
  const Timestamp now = At(1'800'000'000);
  const std::string body = R"({"events":[]})";
  const std::string sig = OutflowSignature(body, "s3cret", now);
  EXPECT_TRUE(sig.starts_with("t=1800000000,v1="));
  EXPECT_TRUE(VerifyOutflowSignature(body, sig, "s3cret", now + std::chrono::minutes(4)).ok());
  EXPECT_ERROR(VerifyOutflowSignature(body, sig, "s3cret", now + std::chrono::minutes(6)), Code::kUnauthenticated,
               "replay");
  EXPECT_ERROR(VerifyOutflowSignature(body, sig, "other", now), Code::kUnauthenticated, "does not match");
  EXPECT_ERROR(VerifyOutflowSignature(body + " ", sig, "s3cret", now), Code::kUnauthenticated, "does not match");
  // Moving t forward breaks the signature, so an old body cannot be replayed as new.
  std::string moved = sig;
  moved.replace(2, 10, "1800000100");
  EXPECT_ERROR(VerifyOutflowSignature(body, moved, "s3cret", now), Code::kUnauthenticated, "does not match");
  EXPECT_ERROR(VerifyOutflowSignature(body, "", "s3cret", now), Code::kUnauthenticated, "missing");
  EXPECT_ERROR(VerifyOutflowSignature(body, "v1=abc", "s3cret", now), Code::kUnauthenticated, "t=<unix");
}

TEST(OutflowStatuses, ReadsEventsAndNamesTheBadField) {
  const Timestamp now = At(1'800'000'000);
  auto s = ParseOutflowStatuses(R"({"events":[{"provider_id":"p1","event":"delivered"},
      {"message_id":7,"event":"bounced","permanent":true,"detail":"550 5.1.1","at":"2027-01-01T00:00:00Z"}]})",
                                now)
               .value();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].provider_id, "p1");
  EXPECT_EQ(s[0].at, now);
  EXPECT_EQ(s[1].message, MessageId(7));
  EXPECT_TRUE(s[1].permanent);
  EXPECT_EQ(s[1].at, ParseRfc3339("2027-01-01T00:00:00Z").value());
  EXPECT_ERROR(ParseOutflowStatuses(R"({"events":[{"provider_id":"p","event":"sent"}]})", now).status(),
               Code::kInvalidArgument, "events[0].event");
  EXPECT_ERROR(ParseOutflowStatuses(R"({"events":[{"event":"opened"}]})", now).status(), Code::kInvalidArgument,
               "events[0]: needs provider_id");
  EXPECT_ERROR(ParseOutflowStatuses(R"({"events":[{"provider_id":"p","event":"opened","at":"soon"}]})", now).status(),
               Code::kInvalidArgument, "events[0].at");
  EXPECT_ERROR(ParseOutflowStatuses(R"({"evts":[]})", now).status(), Code::kInvalidArgument, "events");
}

}  // namespace
}  // namespace outflow
