// The API form of send windows, shared by the release plan and sending account
// routes: [{"days": "mon-fri", "start": "09:00", "end": "17:00"}]. `days` is
// optional (default every day); `end` may be "24:00". (The stored form is
// codec/windows_json.h.)
#pragma once

#include <boost/json.hpp>

#include <string_view>
#include <vector>

#include "base/status.h"
#include "time/send_window.h"

namespace outflow::api {

// Parses the array; errors name the entry ("windows[1].start: ..."). Checks the
// syntax of each entry only: SendWindows::Create checks start < end.
Result<std::vector<Window>> WindowsFromJson(const boost::json::value& v, std::string_view field = "windows");

// `days` printed as a list of days (mon,tue,wed,thu,fri) or "all".
boost::json::array WindowsToJson(const std::vector<Window>& windows);

}  // namespace outflow::api
