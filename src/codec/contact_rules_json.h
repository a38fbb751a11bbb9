// JSON form of per-contact rules, as the API takes them and the store keeps them:
//   {"frequency_cap": {"per_day": 3, "per_week": 10, "over": "defer" | "skip"},
//    "quiet_hours": {"start": "21:00", "end": "08:00"}}
// Either member may be absent or null (no such rule).
#pragma once

#include <boost/json/value.hpp>

#include <string>
#include <string_view>

#include "domain/campaign.h"

namespace outflow {

boost::json::value ContactRulesToJson(const ContactRules& r);
// Errors name `field` and the member ("contact_rules.quiet_hours.start: ...").
Result<ContactRules> ContactRulesFromJson(const boost::json::value& v, std::string_view field);
// The stored column: ContactRulesToJson serialised; unreadable text is no rules.
std::string EncodeContactRules(const ContactRules& r);
ContactRules DecodeContactRules(std::string_view text);

}  // namespace outflow
