#include "api/job_json.h"

#include <gtest/gtest.h>

#include "testing/status_matchers.h"

namespace outflow::api {
namespace {

const Timestamp kNow = FromMicros(1'800'000'000'000'000);

Status ParseError(std::string_view body, std::string_view field = "") {
  Result<boost::json::value> v = ParseJsonBody(body);
  if (!v.ok()) return v.status();
  return ParseJobSpec(*v, field, kNow).status();
}

TEST(JobJson, ParsesAFullSpec) {
  ASSERT_OK_AND_ASSIGN(auto v, ParseJsonBody(R"({"kind":"webhook","due_at":"2027-01-01T00:00:00Z",
      "max_attempts":7,"idempotency_key":"k1","payload":{"url":"http://x"}})"));
  ASSERT_OK_AND_ASSIGN(JobSpec s, ParseJobSpec(v, "", kNow));
  EXPECT_EQ(s.kind, "webhook");
  EXPECT_EQ(FormatRfc3339(s.due_at), "2027-01-01T00:00:00.000000Z");
  EXPECT_EQ(s.max_attempts, 7);
  EXPECT_EQ(s.idempotency_key, "k1");
  EXPECT_EQ(s.payload, R"({"url":"http://x"})");
}

TEST(JobJson, DefaultsDueToNowAndPayloadToEmptyObject) {
  ASSERT_OK_AND_ASSIGN(auto v, ParseJsonBody(R"({"kind":"noop"})"));
  ASSERT_OK_AND_ASSIGN(JobSpec s, ParseJobSpec(v, "", kNow));
  EXPECT_EQ(s.due_at, kNow);
  EXPECT_EQ(s.payload, "{}");
}

TEST(JobJson, ErrorsNameTheProblem) {
  struct Case {
    const char* body;
    const char* message;
  };
  for (const Case& c : {
           Case{"", "request body is empty"},
           Case{"{\"kind\":", "not valid JSON"},
           Case{"[1]", "body: must be a JSON object"},
           Case{"{}", "kind: is required"},
           Case{R"({"kind":1})", "kind: must be a string"},
           Case{R"({"kind":"noop","colour":"red"})", "colour: unknown field"},
           Case{R"({"kind":"noop","due_at":"tomorrow"})", "due_at: 'tomorrow' is not an RFC 3339 timestamp"},
           Case{R"({"kind":"noop","due_at":12})", "due_at: must be an RFC 3339 string"},
           Case{R"({"kind":"noop","max_attempts":0})", "max_attempts: must be between 1 and 100"},
           Case{R"({"kind":"noop","max_attempts":1.5})", "max_attempts: must be an integer"},
           Case{R"({"kind":"noop","payload":[1]})", "payload: must be a JSON object"},
       }) {
    Status st = ParseError(c.body);
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << c.body;
    EXPECT_NE(st.message().find(c.message), std::string::npos) << c.body << " -> " << st.message();
  }
  EXPECT_NE(ParseError(R"({"kind":"noop","due_at":"x"})", "jobs[4]").message().find("jobs[4].due_at:"),
            std::string::npos);
}

TEST(JobJson, JobToJsonCarriesEveryField) {
  Job j;
  j.id = JobId(42);
  j.kind = "noop";
  j.state = JobState::kRetrying;
  j.due_at = kNow;
  j.attempts = 2;
  j.payload = R"({"a":1})";
  j.last_error = "boom";
  auto o = JobToJson(j);
  EXPECT_EQ(o.at("id").as_int64(), 42);
  EXPECT_EQ(o.at("state").as_string(), "retrying");
  EXPECT_EQ(o.at("payload").at("a").as_int64(), 1);
  EXPECT_EQ(o.at("last_error").as_string(), "boom");
  EXPECT_TRUE(o.at("finished_at").is_null());
}

}  // namespace
}  // namespace outflow::api
