#include "domain/job.h"

#include <gtest/gtest.h>

namespace outflow {
namespace {

JobSpec Valid() {
  JobSpec s;
  s.kind = "webhook";
  s.due_at = FromMicros(0);
  return s;
}

TEST(JobState, NamesRoundTrip) {
  for (JobState s : kAllJobStates) EXPECT_EQ(ParseJobState(JobStateName(s)), s);
  EXPECT_FALSE(ParseJobState("running").has_value());
}

TEST(ValidateJobSpec, AcceptsValid) {
  EXPECT_TRUE(ValidateJobSpec(Valid(), "").ok());
}

TEST(ValidateJobSpec, BoundsDueAtAtTheLatestTimestamp) {
  JobSpec s = Valid();
  s.due_at = kLatestTimestamp;
  EXPECT_TRUE(ValidateJobSpec(s, "").ok());
  for (Timestamp t : {kLatestTimestamp + Duration(1), Timestamp::max()}) {
    s.due_at = t;
    Status st = ValidateJobSpec(s, "jobs[1]");
    EXPECT_EQ(st.code(), Code::kInvalidArgument);
    EXPECT_EQ(st.message().rfind("jobs[1].due_at: after 9999-12-31T23:59:59.999999Z", 0), 0u) << st.message();
  }
}

TEST(ValidateJobSpec, NamesTheFieldAndTheProblem) {
  JobSpec s = Valid();
  s.kind = "Web Hook";
  Status st = ValidateJobSpec(s, "jobs[2]");
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_EQ(st.message().rfind("jobs[2].kind:", 0), 0u) << st.message();

  s = Valid();
  s.idempotency_key = std::string(kMaxIdempotencyKeyLength + 1, 'k');
  st = ValidateJobSpec(s, "");
  EXPECT_NE(st.message().find("idempotency_key: 256 bytes, over the limit of 255"), std::string::npos) << st.message();

  s = Valid();
  s.idempotency_key = "";
  EXPECT_FALSE(ValidateJobSpec(s, "").ok());

  s = Valid();
  s.max_attempts = 0;
  EXPECT_NE(ValidateJobSpec(s, "").message().find("max_attempts"), std::string::npos);

  s = Valid();
  s.payload = std::string(kMaxPayloadBytes + 1, ' ');
  EXPECT_NE(ValidateJobSpec(s, "").message().find("payload"), std::string::npos);
}

}  // namespace
}  // namespace outflow
