#include "api/campaigns_api.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/api_handler.h"
#include "api/test_auth.h"
#include "campaigns/campaign_service.h"
#include "contacts/segment_service.h"
#include "crypto/secret_box.h"
#include "store/sqlite/db.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/fault_injection_store.h"
#include "testing/loopback_policy.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace outflow::api {
namespace {

namespace json = boost::json;
const Timestamp kT0 = FromMicros(1'800'000'000'000'000);  // 2027-01-15T08:00:00Z

constexpr std::string_view kSecret = "s3cret-Passw0rd";

class CampaignsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SqliteStores::Open(dir_.File("outflow.db"), {}, kT0);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    stores_ = std::move(s).value();
    ASSERT_OK(SecretBox::GenerateKeyFile(dir_.File("secret.key")));
    auto box = SecretBox::FromKeyFile(dir_.File("secret.key"));
    ASSERT_TRUE(box.ok()) << box.status().ToString();
    box_ = std::make_unique<SecretBox>(std::move(box).value());
    start_handler_ = std::make_shared<CampaignStartHandler>();
    handlers_.Register(std::string(kCampaignStartKind), start_handler_);
    verify_handler_ = std::make_shared<AccountVerifyHandler>();
    handlers_.Register(std::string(kAccountVerifyKind), verify_handler_);
    faults_ = std::make_unique<testing::FaultInjectionStore>(stores_->jobs());
    jobs_ = std::make_unique<JobService>(*faults_, clock_, handlers_, metrics_, nullptr);
    contacts_ = std::make_unique<ContactService>(stores_->contacts(), clock_);
    segments_ = std::make_unique<SegmentService>(stores_->segments(), *contacts_, clock_);
    campaigns_ = std::make_unique<CampaignService>(stores_->campaigns(), *contacts_, *jobs_, nullptr, box_.get(),
                                                   clock_, outflow::testing::LoopbackAllowed());
    start_handler_->SetService(campaigns_.get());
    verify_handler_->SetService(campaigns_.get());
    api_ = std::make_unique<ApiHandler>(
        *jobs_, metrics_, [] { return true; }, contacts_.get(), nullptr, segments_.get(), nullptr, campaigns_.get());
    auth_ = TestAuth::Open(dir_.File("keys.db"), clock_);
    api_->SetAuth(auth_.auth.get());
  }

  HttpResponse Call(std::string method, std::string target, std::string body = "") {
    HttpRequest r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.body = std::move(body);
    r.headers.emplace_back("Authorization", auth_.admin);  // accounts are admin's
    return api_->Handle(r);
  }
  static json::value Body(const HttpResponse& r) { return json::parse(r.body); }
  static std::string Message(const HttpResponse& r) {
    return std::string(json::parse(r.body).at("error").at("message").as_string());
  }
  static std::string Id(const HttpResponse& r) { return std::to_string(Body(r).at("id").as_int64()); }
  // Makes every insert into the jobs table fail (a trigger on the real file), or not.
  void RefuseJobs(bool refuse) {
    auto c = sqlite::Connection::Open(dir_.File("outflow.db"), {});
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    ASSERT_OK((*c)->Exec(refuse ? "CREATE TRIGGER refuse_jobs BEFORE INSERT ON jobs BEGIN "
                                  "SELECT RAISE(ABORT, 'injected: no jobs'); END"
                                : "DROP TRIGGER refuse_jobs"));
  }

  // A `log` account (dry run) and a template; their ids.
  std::string LogAccount() {
    HttpResponse r = Call("POST", "/v1/accounts", R"({"name":"dry","channel":"log","provider":"log"})");
    EXPECT_EQ(r.status, 201) << r.body;
    return Id(r);
  }
  std::string Template() {
    HttpResponse r =
        Call("POST", "/v1/templates", R"({"name":"hello","subject":"Hi {{first_name|there}}","text":"Hello"})");
    EXPECT_EQ(r.status, 201) << r.body;
    return Id(r);
  }
  // A static segment with `n` live contacts; the segment id.
  int64_t SegmentWith(int n) {
    Segment seg;
    seg.name = "list-" + std::to_string(++segment_count_);
    seg.kind = SegmentKind::kStatic;
    Result<Segment> s = segments_->Create(seg);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    std::vector<ContactId> ids;
    for (int i = 0; i < n; ++i) {
      Contact c;
      c.email = "p" + std::to_string(segment_count_) + "-" + std::to_string(i) + "@example.com";
      Result<Contact> created = contacts_->Create(c);
      EXPECT_TRUE(created.ok()) << created.status().ToString();
      ids.push_back(created->id);
    }
    if (!ids.empty()) EXPECT_OK(segments_->AddMembers(s->id, ids));
    return s->id.value();
  }
  std::string CampaignBody(const std::string& account, const std::string& tpl, int64_t segment,
                           const std::string& extra = "") {
    return R"({"name":"launch","account_id":)" + account + R"(,"template_id":)" + tpl + R"(,"audience":{"segments":[)" +
           std::to_string(segment) + "]}" + extra + "}";
  }

  testing::TempDir dir_;
  FakeClock clock_{kT0};
  std::unique_ptr<SqliteStores> stores_;
  std::unique_ptr<SecretBox> box_;
  std::shared_ptr<CampaignStartHandler> start_handler_;
  std::shared_ptr<AccountVerifyHandler> verify_handler_;
  HandlerRegistry handlers_;
  EngineMetrics metrics_;
  std::unique_ptr<testing::FaultInjectionStore> faults_;  // between the jobs and their store
  std::unique_ptr<JobService> jobs_;
  std::unique_ptr<ContactService> contacts_;
  std::unique_ptr<SegmentService> segments_;
  std::unique_ptr<CampaignService> campaigns_;
  std::unique_ptr<ApiHandler> api_;
  TestAuth auth_;
  int segment_count_ = 0;
};

TEST_F(CampaignsApiTest, AccountsCrudNeverShowCredentials) {
  HttpResponse r = Call("POST", "/v1/accounts", R"({"name":"mail","channel":"email","provider":"smtp",
      "settings":{"host":"127.0.0.1","port":1,"tls":"none","from_address":"news@example.com","timeout_ms":2000},
      "credentials":{"username":"news","password":"s3cret-Passw0rd"},"rate_per_second":29,"daily_cap":1000,
      "time_zone":"Europe/Berlin","windows":[{"days":"mon-fri","start":"09:00","end":"17:00"}]})");
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string id = Id(r);
  json::value a = Body(r);
  EXPECT_EQ(a.at("channel").as_string(), "email");
  EXPECT_EQ(a.at("provider").as_string(), "smtp");
  EXPECT_EQ(a.at("settings").at("host").as_string(), "127.0.0.1");
  EXPECT_TRUE(a.at("has_credentials").as_bool());
  EXPECT_FALSE(a.as_object().contains("credentials"));
  EXPECT_EQ(a.at("rate_per_second").as_int64(), 29);
  EXPECT_EQ(a.at("burst").as_int64(), 29);  // defaults to the rate
  EXPECT_EQ(a.at("daily_cap").as_int64(), 1000);
  EXPECT_EQ(a.at("windows").at(0).at("days").as_string(), "mon,tue,wed,thu,fri");
  EXPECT_EQ(r.body.find(kSecret), std::string::npos);

  // Stored sealed, bound to the row.
  Result<std::optional<std::string>> sealed = stores_->campaigns().AccountCredentials(AccountId(std::stoll(id)));
  ASSERT_TRUE(sealed.ok() && sealed->has_value());
  EXPECT_TRUE((*sealed)->starts_with("v1:"));
  EXPECT_EQ((*sealed)->find(kSecret), std::string::npos);

  std::vector<HttpResponse> reads = {Call("GET", "/v1/accounts/" + id), Call("GET", "/v1/accounts")};
  // A new rate moves a burst that was the rate; "credentials" replaces them; a null cap removes it.
  r = Call(
      "PATCH", "/v1/accounts/" + id,
      R"({"rate_per_second":50,"daily_cap":null,"credentials":{"username":"news","password":"n3w-s3cret-Passw0rd"}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("burst").as_int64(), 50);
  EXPECT_TRUE(Body(r).at("daily_cap").is_null());
  EXPECT_TRUE(Body(r).at("has_credentials").as_bool());
  reads.push_back(r);
  r = Call("PATCH", "/v1/accounts/" + id, R"({"burst":5,"name":"mail-2"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("burst").as_int64(), 5);
  EXPECT_EQ(Body(r).at("rate_per_second").as_int64(), 50);
  reads.push_back(r);
  reads.push_back(Call("GET", "/v1/accounts/" + id));
  reads.push_back(Call("GET", "/v1/accounts"));
  for (const HttpResponse& read : reads) {
    ASSERT_EQ(read.status, 200) << read.body;
    EXPECT_EQ(read.body.find("Passw0rd"), std::string::npos) << read.body;
    EXPECT_EQ(read.body.find("\"credentials\""), std::string::npos) << read.body;
  }
  EXPECT_EQ(Body(reads.back()).at("accounts").as_array().size(), 1u);
  EXPECT_EQ(Body(Call("GET", "/v1/accounts/" + id)).at("name").as_string(), "mail-2");

  // Verifying queues an account.verify job (202), which the engine runs: here the
  // test runs it. Nothing listens on port 1: the job fails with the reason, and no
  // secret. The log provider always verifies.
  r = Call("POST", "/v1/accounts/" + id + "/verify");
  ASSERT_EQ(r.status, 202) << r.body;
  ASSERT_OK_AND_ASSIGN(Job job, jobs_->Get(JobId(Body(r).at("job_id").as_int64())));
  EXPECT_EQ(job.kind, kAccountVerifyKind);
  EXPECT_EQ(job.max_attempts, 1);
  RunResult run = verify_handler_->Run(job);
  EXPECT_EQ(run.kind, RunResult::Kind::kFail);
  EXPECT_NE(run.error.find("cannot reach"), std::string::npos) << run.error;
  EXPECT_EQ(run.error.find("Passw0rd"), std::string::npos);
  r = Call("POST", "/v1/accounts/" + LogAccount() + "/verify");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.headers.front(),
            std::make_pair(std::string("Location"), "/v1/jobs/" + std::to_string(Body(r).at("job_id").as_int64())));
  ASSERT_OK_AND_ASSIGN(job, jobs_->Get(JobId(Body(r).at("job_id").as_int64())));
  EXPECT_EQ(verify_handler_->Run(job).kind, RunResult::Kind::kDone);

  EXPECT_EQ(Call("GET", "/v1/accounts/99").status, 404);
  EXPECT_EQ(Call("POST", "/v1/accounts/99/verify").status, 404);
  EXPECT_EQ(Call("PUT", "/v1/accounts/" + id).status, 405);
  EXPECT_EQ(Call("GET", "/v1/accounts/" + id + "/verify").status, 405);
  EXPECT_EQ(Call("GET", "/v1/accounts/abc").status, 400);
}

TEST_F(CampaignsApiTest, AccountBadInputNamesTheField) {
  const std::string smtp = R"("channel":"email","provider":"smtp")";
  struct Case {
    std::string body, field, text;
  };
  for (
      const Case& c : std::vector<Case>{
          {R"({"name":"a","channel":"fax","provider":"log"})", "channel", "'fax' is not one of email, sms"},
          {R"({"name":"a","channel":"sms","provider":"smtp"})", "provider", "'smtp' does not send sms"},
          {R"({"name":"a","channel":"sms","provider":"carrier_pigeon"})", "provider", "is not one of smtp"},
          {R"({"name":"a","channel":"log","provider":"log","rate_per_second":5,"burst":6})", "burst",
           "between 1 and rate_per_second (5)"},
          {R"({"name":"a","channel":"log","provider":"log","rate_per_second":0})", "rate_per_second", "between 1"},
          {R"({"name":"a","channel":"log","provider":"log","rate_per_second":2.5})", "rate_per_second", "integer"},
          {R"({"name":"a","channel":"log","provider":"log","daily_cap":0})", "daily_cap", "at least 1"},
          {R"({"name":"a","channel":"log","provider":"log","time_zone":"Mars/Base"})", "time_zone", "Mars/Base"},
          {R"({"name":"a","channel":"log","provider":"log","windows":[{"days":"funday","start":"09:00","end":"17:00"}]})",
           "windows[0].days", "funday"},
          {R"({"name":"a","channel":"log","provider":"log","windows":[{"start":"17:00","end":"09:00"}]})", "windows[0]",
           ""},
          {R"({"name":"a","channel":"log","provider":"log","windows":{}})", "windows", "must be an array"},
          {R"({"name":"a",)" + smtp + R"(,"settings":{"from_address":"a@example.com"}})", "settings.host",
           "is required"},
          {R"({"name":"a",)" + smtp + R"(,"settings":"host=x"})", "settings", "must be a JSON object"},
          {R"({"name":"a",)" + smtp + R"(,"settings":{"host":"h","from_address":"a@example.com"},"credentials":"pw"})",
           "credentials", "must be a JSON object"},
          {R"({"name":"a",)" + smtp +
               R"(,"settings":{"host":"h","from_address":"a@example.com"},"credentials":{"password":"x"}})",
           "credentials.username", "is required"},
          {R"({"name":"a","channel":"log","provider":"log","colour":"red"})", "colour", "unknown field (known: name"},
          {R"({"channel":"log","provider":"log"})", "name", "is required"},
          {R"({"name":"a","provider":"log"})", "channel", "is required"},
          {R"({"name":"a","channel":"log"})", "provider", "is required"},
          {R"([1])", "body", "must be a JSON object"},
          {R"({"name":"a","channel":"log","provider":"log","contact_rules":{"frequency_cap":{"per_day":0}}})",
           "contact_rules.frequency_cap.per_day", "from 1 to 10000"},
          {R"({"name":"a","channel":"log","provider":"log","contact_rules":{"frequency_cap":{}}})",
           "contact_rules.frequency_cap", "give per_day, per_week or both"},
          {R"({"name":"a","channel":"log","provider":"log","contact_rules":{"frequency_cap":{"per_day":1,"over":"drop"}}})",
           "contact_rules.frequency_cap.over", "defer or skip"},
          {R"({"name":"a","channel":"log","provider":"log","contact_rules":{"quiet_hours":{"start":"21:00"}}})",
           "contact_rules.quiet_hours.end", "required"},
          {R"({"name":"a","channel":"log","provider":"log","contact_rules":{"quiet_hours":{"start":"9","end":"8"}}})",
           "contact_rules.quiet_hours.start", ""},
          {R"({"name":"a","channel":"log","provider":"log","contact_rules":{"quiet":1}})", "contact_rules.quiet",
           "unknown field"},
      }) {
    HttpResponse r = Call("POST", "/v1/accounts", c.body);
    EXPECT_EQ(r.status, 400) << c.body << " -> " << r.body;
    json::value e = Body(r).at("error");
    EXPECT_EQ(e.as_object().contains("field") ? e.at("field").as_string() : "", c.field) << r.body;
    EXPECT_NE(Message(r).find(c.text), std::string::npos) << Message(r);
  }
  EXPECT_EQ(Body(Call("GET", "/v1/accounts")).at("accounts").as_array().size(), 0u);

  const std::string id = LogAccount();
  HttpResponse r = Call("PATCH", "/v1/accounts/" + id, R"({"channel":"email"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(Message(r).find("channel: cannot be changed"), std::string::npos) << Message(r);
  r = Call("PATCH", "/v1/accounts/" + id, R"({"channel":"log","burst":11})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(Message(r).find("burst:"), std::string::npos) << Message(r);
  r = Call("POST", "/v1/accounts", R"({"name":"dry","channel":"log","provider":"log"})");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(Call("PATCH", "/v1/accounts/99", R"({"burst":1})").status, 404);

  // Per-contact rules: set, read back, cleared.
  r = Call(
      "PATCH", "/v1/accounts/" + id,
      R"({"contact_rules":{"frequency_cap":{"per_day":3,"over":"skip"},"quiet_hours":{"start":"21:00","end":"08:00"}}})");
  ASSERT_EQ(r.status, 200) << r.body;
  json::value rules = Body(Call("GET", "/v1/accounts/" + id)).at("contact_rules");
  EXPECT_EQ(rules.at("frequency_cap").at("per_day").as_int64(), 3);
  EXPECT_TRUE(rules.at("frequency_cap").at("per_week").is_null());
  EXPECT_EQ(rules.at("frequency_cap").at("over").as_string(), "skip");
  EXPECT_EQ(rules.at("quiet_hours").at("start").as_string(), "21:00");
  EXPECT_EQ(rules.at("quiet_hours").at("end").as_string(), "08:00");
  r = Call("PATCH", "/v1/accounts/" + id, R"({"contact_rules":null})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Body(r).at("contact_rules").at("quiet_hours").is_null());
}

TEST_F(CampaignsApiTest, TemplatesAndPreview) {
  ASSERT_EQ(Call("POST", "/v1/fields", R"({"name":"plan","type":"text"})").status, 201);
  HttpResponse r = Call("POST", "/v1/templates",
                        R"({"name":"welcome","subject":"Welcome {{first_name}}","text":"Your plan: {{plan|free}}",
                            "html":"<p>Hi {{first_name}}</p>"})");
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string id = Id(r);
  EXPECT_EQ(Body(r).at("subject").as_string(), "Welcome {{first_name}}");

  // A field that is not defined is refused when saved, naming the part and the field.
  r = Call("POST", "/v1/templates", R"({"name":"bad","subject":"S","text":"Hi {{colour}}"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Body(r).at("error").at("field").as_string(), "text");
  EXPECT_NE(Message(r).find("unknown field 'colour'"), std::string::npos) << Message(r);
  r = Call("POST", "/v1/templates", R"({"name":"bad","subject":"S","text":"x","footer":"y"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(Message(r).find("footer: unknown field (known: name, subject, text, html, tracking)"), std::string::npos);
  r = Call("POST", "/v1/templates", R"({"subject":"S","text":"x"})");
  EXPECT_NE(Message(r).find("name: is required"), std::string::npos) << r.body;
  r = Call("POST", "/v1/templates", R"({"name":"bad","text":7})");
  EXPECT_NE(Message(r).find("text: must be a string"), std::string::npos) << r.body;

  Contact ann;
  ann.email = "ann@example.com";
  ann.first_name = "Ann";
  ann.custom["plan"] = std::string("pro");
  Result<Contact> a = contacts_->Create(ann);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  Contact bob;
  bob.email = "bob@example.com";
  Result<Contact> b = contacts_->Create(bob);
  ASSERT_TRUE(b.ok()) << b.status().ToString();

  r = Call("POST", "/v1/templates/" + id + "/preview", R"({"contact_id":)" + std::to_string(a->id.value()) + "}");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("subject").as_string(), "Welcome Ann");
  EXPECT_EQ(Body(r).at("text").as_string(), "Your plan: pro");
  EXPECT_EQ(Body(r).at("html").as_string(), "<p>Hi Ann</p>");
  // Bob has no first name: the error a send would get.
  r = Call("POST", "/v1/templates/" + id + "/preview", R"({"contact_id":)" + std::to_string(b->id.value()) + "}");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(Message(r).find("first_name"), std::string::npos) << Message(r);
  r = Call("POST", "/v1/templates/" + id + "/preview", R"({"contact_id":999})");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(Message(r).find("contact_id: contact 999 does not exist"), std::string::npos) << Message(r);
  EXPECT_EQ(Call("POST", "/v1/templates/" + id + "/preview", R"({"contact":1})").status, 400);
  EXPECT_EQ(Call("POST", "/v1/templates/" + id + "/preview", R"({})").status, 400);
  EXPECT_EQ(Call("POST", "/v1/templates/99/preview", R"({"contact_id":1})").status, 404);

  r = Call("PATCH", "/v1/templates/" + id, R"({"subject":"Hello {{first_name|friend}}","html":""})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("text").as_string(), "Your plan: {{plan|free}}");  // unchanged
  r = Call("POST", "/v1/templates/" + id + "/preview", R"({"contact_id":)" + std::to_string(b->id.value()) + "}");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("subject").as_string(), "Hello friend");
  EXPECT_EQ(Body(r).at("text").as_string(), "Your plan: free");
  EXPECT_EQ(Body(r).at("html").as_string(), "");
  r = Call("PATCH", "/v1/templates/" + id, R"({"html":"{{#colour}}x{{/colour}}"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(Message(r).find("html: "), std::string::npos) << Message(r);

  EXPECT_EQ(Body(Call("GET", "/v1/templates")).at("templates").as_array().size(), 1u);
  EXPECT_EQ(Body(Call("GET", "/v1/templates/" + id)).at("name").as_string(), "welcome");
  EXPECT_EQ(Call("GET", "/v1/templates/99").status, 404);
  EXPECT_EQ(Call("DELETE", "/v1/templates/" + id).status, 405);
}

TEST_F(CampaignsApiTest, CampaignCreateChecksItsReferencesAndTime) {
  const std::string account = LogAccount();
  const std::string tpl = Template();
  const int64_t segment = SegmentWith(1);
  struct Case {
    std::string body;
    int status;
    std::string text;
  };
  for (const Case& c : std::vector<Case>{
           {CampaignBody("99", tpl, segment), 404, "account_id: account 99 does not exist"},
           {CampaignBody(account, "98", segment), 404, "template_id: template 98 does not exist"},
           {CampaignBody(account, tpl, 97), 404, "audience.segments[0]: segment 97 does not exist"},
           {CampaignBody(account, tpl, segment, R"(,"send_at":"2026-11-25T09:00")"), 400, "send_at: "},
           {CampaignBody(account, tpl, segment, R"(,"send_at":"next tuesday")"), 400, "send_at"},
           {CampaignBody(account, tpl, segment, R"(,"send_at":"2027-03-01T09:00","time_zone":"Mars/Base")"), 400,
            "time_zone"},
           {CampaignBody(account, tpl, segment, R"(,"cap_policy":"maybe")"), 400, "cap_policy: must be wait or fail"},
           {CampaignBody(account, tpl, segment, R"(,"max_attempts":0)"), 400, "max_attempts"},
           {CampaignBody(account, tpl, segment, R"(,"missed_after_seconds":-1)"), 400, "missed_after_seconds"},
           {CampaignBody(account, tpl, segment, R"(,"draft":"yes")"), 400, "draft: must be true or false"},
           {CampaignBody(account, tpl, segment, R"(,"priority":1)"), 400, "priority: unknown field"},
           {R"({"name":"x","account_id":)" + account + R"(,"template_id":)" + tpl + "}", 400, "audience: is required"},
           {R"({"name":"x","account_id":)" + account + R"(,"template_id":)" + tpl + R"(,"audience":{"segments":[]}})",
            400, "audience.segments: give at least one segment"},
           {R"({"name":"x","account_id":)" + account + R"(,"template_id":)" + tpl +
                R"(,"audience":{"segments":[1],"only":2}})",
            400, "audience.only: unknown field"},
           {R"({"name":"x","account_id":"1","template_id":)" + tpl + R"(,"audience":{"segments":[1]}})", 400,
            "account_id: must be an account id"},
       }) {
    HttpResponse r = Call("POST", "/v1/campaigns", c.body);
    EXPECT_EQ(r.status, c.status) << c.body << " -> " << r.body;
    EXPECT_NE(Message(r).find(c.text), std::string::npos) << Message(r);
  }
  // The past-time message says when now is.
  HttpResponse r =
      Call("POST", "/v1/campaigns", CampaignBody(account, tpl, segment, R"(,"send_at":"2026-11-25T09:00")"));
  EXPECT_NE(Message(r).find("is in the past"), std::string::npos) << Message(r);
  EXPECT_EQ(Body(Call("GET", "/v1/campaigns")).at("campaigns").as_array().size(), 0u);

  // A local time in the campaign's zone, and an RFC 3339 time with an offset.
  r = Call("POST", "/v1/campaigns",
           CampaignBody(account, tpl, segment, R"(,"send_at":"2027-03-01T09:00","time_zone":"Europe/Berlin")"));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Body(r).at("send_at").as_string(), "2027-03-01T08:00:00.000000Z");
  EXPECT_EQ(Body(r).at("time_zone").as_string(), "Europe/Berlin");
  EXPECT_EQ(Body(r).at("state").as_string(), "scheduled");
  r = Call("POST", "/v1/campaigns", CampaignBody(account, tpl, segment, R"(,"send_at":"2027-03-01T09:00:00-05:00")"));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Body(r).at("send_at").as_string(), "2027-03-01T14:00:00.000000Z");

  // A wall time in each contact's zone: the start is when the first zone (UTC+14) reaches it.
  r = Call("POST", "/v1/campaigns",
           CampaignBody(account, tpl, segment, R"(,"send_at":"2027-03-01T10:00","contact_time_zone":true)"));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Body(r).at("send_at").as_string(), "2027-02-28T20:00:00.000000Z");
  EXPECT_EQ(Body(r).at("local_send_at").as_string(), "2027-03-01T10:00");
  EXPECT_TRUE(Body(r).at("contact_time_zone").as_bool());
  for (const Case& c : std::vector<Case>{
           {CampaignBody(account, tpl, segment, R"(,"contact_time_zone":true)"), 400,
            "send_at: contact_time_zone needs a local date-time"},
           {CampaignBody(account, tpl, segment, R"(,"send_at":"2027-03-01T10:00Z","contact_time_zone":true)"), 400,
            "without an offset"},
           {CampaignBody(account, tpl, segment, R"(,"send_at":"2026-11-20T10:00","contact_time_zone":true)"), 400,
            "has passed in every time zone"},
           {CampaignBody(account, tpl, segment, R"(,"send_at":"2027-03-01T10:00","contact_time_zone":1)"), 400,
            "contact_time_zone: must be true or false"},
       }) {
    HttpResponse bad = Call("POST", "/v1/campaigns", c.body);
    EXPECT_EQ(bad.status, c.status) << c.body << " -> " << bad.body;
    EXPECT_NE(Message(bad).find(c.text), std::string::npos) << Message(bad);
  }
}

TEST_F(CampaignsApiTest, DraftThenScheduleAndStateChanges) {
  const std::string account = LogAccount();
  const std::string tpl = Template();
  const int64_t segment = SegmentWith(2);
  HttpResponse r =
      Call("POST", "/v1/campaigns",
           CampaignBody(account, tpl, segment,
                        R"(,"draft":true,"cap_policy":"fail","missed_after_seconds":600,"max_attempts":3)"));
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string id = Id(r);
  json::value c = Body(r);
  EXPECT_EQ(c.at("state").as_string(), "draft");
  EXPECT_EQ(c.at("cap_policy").as_string(), "fail");
  EXPECT_EQ(c.at("missed_after_seconds").as_int64(), 600);
  EXPECT_EQ(c.at("max_attempts").as_int64(), 3);
  EXPECT_EQ(c.at("audience").at("segments").at(0).as_int64(), segment);
  EXPECT_TRUE(c.at("audience").at("exclude_segment").is_null());
  EXPECT_TRUE(c.at("send_at").is_null());
  EXPECT_TRUE(c.at("error").is_null());
  for (const char* stamp : {"scheduled_at", "started_at", "paused_at", "completed_at", "failed_at", "cancelled_at"}) {
    EXPECT_TRUE(c.at(stamp).is_null()) << stamp;
  }
  EXPECT_EQ(c.at("counts").at("total").as_int64(), 0);

  // A draft cannot be paused or resumed.
  EXPECT_EQ(Call("POST", "/v1/campaigns/" + id + "/pause").status, 409);
  EXPECT_EQ(Call("POST", "/v1/campaigns/" + id + "/resume").status, 409);
  // A campaign to send whose start job cannot be stored is not stored either (one
  // transaction), so a client that retries does not send twice. The jobs table of
  // the real file refuses inserts.
  RefuseJobs(true);
  HttpResponse failed = Call("POST", "/v1/campaigns", CampaignBody(account, tpl, segment, ""));
  EXPECT_GE(failed.status, 400) << failed.body;
  json::value newest = Body(Call("GET", "/v1/campaigns?limit=1")).at("campaigns").at(0);
  EXPECT_EQ(std::to_string(newest.at("id").as_int64()), id) << "no campaign without its start job";
  // Scheduling whose start job cannot be stored is refused whole: still a draft.
  r = Call("POST", "/v1/campaigns/" + id + "/schedule");
  EXPECT_GE(r.status, 400) << r.body;
  EXPECT_EQ(Body(Call("GET", "/v1/campaigns/" + id)).at("state").as_string(), "draft");
  RefuseJobs(false);
  r = Call("POST", "/v1/campaigns/" + id + "/schedule");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("state").as_string(), "scheduled");
  EXPECT_EQ(Body(r).at("scheduled_at").as_string(), FormatRfc3339(kT0));
  r = Call("POST", "/v1/campaigns/" + id + "/schedule");
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(Message(r).find("only a draft can be scheduled"), std::string::npos) << Message(r);

  clock_.Advance(std::chrono::seconds(1));
  r = Call("POST", "/v1/campaigns/" + id + "/pause");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("state").as_string(), "paused");
  EXPECT_FALSE(Body(r).at("paused_at").is_null());
  EXPECT_EQ(Call("POST", "/v1/campaigns/" + id + "/pause").status, 409);
  r = Call("POST", "/v1/campaigns/" + id + "/resume");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("state").as_string(), "scheduled");  // it had not started
  r = Call("POST", "/v1/campaigns/" + id + "/cancel");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("state").as_string(), "cancelled");
  EXPECT_FALSE(Body(r).at("cancelled_at").is_null());
  EXPECT_FALSE(Body(r).at("paused_at").is_null());  // every stamp stays
  for (const char* action : {"cancel", "resume", "pause", "schedule", "retry-failed"}) {
    EXPECT_EQ(Call("POST", "/v1/campaigns/" + id + "/" + action).status, 409) << action;
  }
  EXPECT_EQ(Body(Call("GET", "/v1/campaigns/" + id)).at("state").as_string(), "cancelled");
  EXPECT_EQ(Call("POST", "/v1/campaigns/99/pause").status, 404);
  EXPECT_EQ(Call("GET", "/v1/campaigns/99").status, 404);
  EXPECT_EQ(Call("GET", "/v1/campaigns/" + id + "/pause").status, 405);
  EXPECT_EQ(Call("PATCH", "/v1/campaigns/" + id).status, 405);
}

TEST_F(CampaignsApiTest, ProcessingCampaignRecipientsPageByContact) {
  const std::string account = LogAccount();
  const std::string tpl = Template();
  const int64_t segment = SegmentWith(5);
  const int64_t excluded = SegmentWith(0);
  HttpResponse r = Call("POST", "/v1/campaigns", CampaignBody(account, tpl, segment, R"(,"send_at":"now")"));
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string id = Id(r);
  EXPECT_EQ(Body(r).at("state").as_string(), "scheduled");
  ASSERT_EQ(campaigns_->RunStart(CampaignId(std::stoll(id))).kind, RunResult::Kind::kDone);
  r = Call("GET", "/v1/campaigns/" + id);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("state").as_string(), "processing");
  EXPECT_FALSE(Body(r).at("started_at").is_null());
  EXPECT_EQ(Body(r).at("counts").at("total").as_int64(), 5);
  EXPECT_EQ(Body(r).at("counts").at("pending").as_int64(), 5);

  std::vector<int64_t> seen;
  std::string after;
  for (int page = 0; page < 5; ++page) {
    r = Call("GET", "/v1/campaigns/" + id + "/recipients?state=pending&limit=2" + after);
    ASSERT_EQ(r.status, 200) << r.body;
    json::value b = Body(r);
    for (const auto& rec : b.at("recipients").as_array()) {
      seen.push_back(rec.at("contact_id").as_int64());
      EXPECT_EQ(rec.at("state").as_string(), "pending");
      EXPECT_NE(rec.at("address").as_string().find("@example.com"), json::string::npos);
      EXPECT_EQ(rec.at("attempts").as_int64(), 0);
      EXPECT_TRUE(rec.at("last_attempt_at").is_null());
      EXPECT_TRUE(rec.at("provider_id").is_null());
      EXPECT_TRUE(rec.at("error").is_null());
    }
    if (b.at("next_after").is_null()) break;
    EXPECT_EQ(b.at("next_after").as_int64(), seen.back());
    after = "&after=" + std::to_string(seen.back());
  }
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(Body(Call("GET", "/v1/campaigns/" + id + "/recipients?state=failed")).at("recipients").as_array().size(),
            0u);
  EXPECT_EQ(Body(Call("GET", "/v1/campaigns/" + id + "/recipients")).at("recipients").as_array().size(), 5u);

  for (const char* bad : {"?state=lost", "?limit=0", "?limit=1001", "?after=-1", "?colour=red"}) {
    r = Call("GET", "/v1/campaigns/" + id + "/recipients" + bad);
    EXPECT_EQ(r.status, 400) << bad << " -> " << r.body;
  }
  EXPECT_EQ(Call("GET", "/v1/campaigns/99/recipients").status, 404);

  // Nothing failed: retry-failed retries none and says so.
  r = Call("POST", "/v1/campaigns/" + id + "/retry-failed");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("retried").as_int64(), 0);
  EXPECT_EQ(Body(r).at("campaign").at("state").as_string(), "processing");

  // A processing campaign pauses and resumes to processing.
  r = Call("POST", "/v1/campaigns/" + id + "/pause");
  ASSERT_EQ(r.status, 200) << r.body;
  r = Call("POST", "/v1/campaigns/" + id + "/resume");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("state").as_string(), "processing");

  // History: newest first, paged by id.
  r = Call("POST", "/v1/campaigns",
           R"({"name":"second","account_id":)" + account + R"(,"template_id":)" + tpl +
               R"(,"draft":true,"audience":{"segments":[)" + std::to_string(segment) + R"(],"exclude_segment":)" +
               std::to_string(excluded) + "}}");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Body(r).at("audience").at("exclude_segment").as_int64(), excluded);
  const std::string second = Id(r);
  r = Call("GET", "/v1/campaigns?limit=1");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(Body(r).at("campaigns").as_array().size(), 1u);
  EXPECT_EQ(std::to_string(Body(r).at("campaigns").at(0).at("id").as_int64()), second);
  EXPECT_EQ(std::to_string(Body(r).at("next_before").as_int64()), second);
  r = Call("GET", "/v1/campaigns?limit=1&before=" + second);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(std::to_string(Body(r).at("campaigns").at(0).at("id").as_int64()), id);
  EXPECT_EQ(Body(r).at("campaigns").at(0).at("counts").at("total").as_int64(), 5);
  EXPECT_TRUE(Body(r).at("next_before").is_null());
  EXPECT_EQ(Call("GET", "/v1/campaigns?limit=0").status, 400);
  EXPECT_EQ(Call("GET", "/v1/campaigns?after=1").status, 400);
}

TEST_F(CampaignsApiTest, RoutesAreAbsentWithoutTheServiceAndDocumented) {
  ApiHandler bare(*jobs_, metrics_, [] { return true; });
  bare.SetAuth(auth_.auth.get());
  HttpRequest req;
  req.method = "GET";
  req.headers.emplace_back("Authorization", auth_.admin);
  for (const char* path : {"/v1/accounts", "/v1/templates/1", "/v1/campaigns"}) {
    req.target = path;
    EXPECT_EQ(bare.Handle(req).status, 404) << path;
  }
  EXPECT_EQ(Call("GET", "/v1/accountsx").status, 404);
  json::value doc = json::parse(OpenApiJson());
  for (const char* path :
       {"/v1/accounts", "/v1/accounts/{id}", "/v1/accounts/{id}/verify", "/v1/templates", "/v1/templates/{id}",
        "/v1/templates/{id}/preview", "/v1/campaigns", "/v1/campaigns/{id}", "/v1/campaigns/{id}/schedule",
        "/v1/campaigns/{id}/pause", "/v1/campaigns/{id}/resume", "/v1/campaigns/{id}/cancel",
        "/v1/campaigns/{id}/retry-failed", "/v1/campaigns/{id}/recipients", "/v1/contacts/{id}/unsubscribe",
        "/v1/contacts/{id}/resubscribe", "/v1/contacts/{id}/subscription", "/u/{token}"}) {
    EXPECT_TRUE(doc.at("paths").as_object().contains(path)) << path;
  }
}

}  // namespace
}  // namespace outflow::api
