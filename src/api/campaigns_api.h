// The sending account, template and campaign routes of the REST API (docs/api.md,
// docs/campaigns.md):
//
//   POST  /v1/accounts                 {"name", "channel", "provider", "settings"?, "credentials"?,
//                                       "rate_per_second"?, "burst"?, "daily_cap"?, "time_zone"?,
//                                       "windows"?}                                         201
//   GET   /v1/accounts, /v1/accounts/{id}
//   PATCH /v1/accounts/{id}            any of the fields above; "credentials" replaces them
//   POST  /v1/accounts/{id}/verify     {"ok": true}, or the provider's error (400, 503)
//   POST  /v1/templates                {"name", "subject"?, "text"?, "html"?}               201
//   GET   /v1/templates, /v1/templates/{id}
//   PATCH /v1/templates/{id}
//   POST  /v1/templates/{id}/preview   {"contact_id"} -> {"subject", "text", "html"}
//   POST  /v1/campaigns                {"name", "account_id", "template_id", "audience": {"segments",
//                                       "exclude_segment"?}, "send_at"?, "time_zone"?, "cap_policy"?,
//                                       "missed_after_seconds"?, "max_attempts"?, "draft"?}  201
//   GET   /v1/campaigns                ?before&limit: newest first
//   GET   /v1/campaigns/{id}
//   POST  /v1/campaigns/{id}/schedule | pause | resume | cancel | retry-failed
//   GET   /v1/campaigns/{id}/recipients ?state&after&limit: the ledger, by contact id
//   POST  /v1/contacts/{id}/unsubscribe | resubscribe, GET /v1/contacts/{id}/subscription
//   GET   /u/{token}                   the unsubscribe page of an email's link (HTML)
//   POST  /u/{token}                   unsubscribes (its button; RFC 8058 one-click POST)
//
// Credentials go in and never come out: every account in a response carries only
// "has_credentials". Thread-safe.
#pragma once

#include <optional>
#include <string_view>

#include "api/http_server.h"
#include "campaigns/campaign_service.h"

namespace outflow::api {

class CampaignsApi {
 public:
  explicit CampaignsApi(CampaignService& campaigns) : campaigns_(campaigns) {}
  // The response for a path under /v1/accounts, /v1/templates, /v1/campaigns, the
  // subscription actions under /v1/contacts/{id}/ and /u/;
  // nullopt for a path this module does not know.
  std::optional<HttpResponse> Route(const HttpRequest& req, std::string_view path, std::string_view query);

 private:
  std::optional<HttpResponse> Accounts(const HttpRequest& req, std::string_view path);
  std::optional<HttpResponse> Templates(const HttpRequest& req, std::string_view path);
  std::optional<HttpResponse> Campaigns(const HttpRequest& req, std::string_view path, std::string_view query);
  std::optional<HttpResponse> UnsubscribeLink(const HttpRequest& req, std::string_view token);
  std::optional<HttpResponse> Subscription(const HttpRequest& req, std::string_view path);
  HttpResponse CreateAccount(const HttpRequest& req);
  HttpResponse UpdateAccount(AccountId id, const HttpRequest& req);
  HttpResponse CreateTemplate(const HttpRequest& req);
  HttpResponse UpdateTemplate(TemplateId id, const HttpRequest& req);
  HttpResponse Preview(TemplateId id, const HttpRequest& req);
  HttpResponse CreateCampaign(const HttpRequest& req);
  HttpResponse ListCampaigns(std::string_view query);
  HttpResponse Recipients(CampaignId id, std::string_view query);

  CampaignService& campaigns_;
};

}  // namespace outflow::api
