#include "api/window_json.h"

#include <string>

namespace outflow::api {

namespace json = boost::json;

Result<std::vector<Window>> WindowsFromJson(const json::value& v, std::string_view field) {
  const std::string name(field);
  if (!v.is_array()) return Status::InvalidArgument(name + ": must be an array");
  std::vector<Window> out;
  for (size_t i = 0; i < v.as_array().size(); ++i) {
    std::string f = name + "[" + std::to_string(i) + "]";
    const json::object* w = v.as_array()[i].if_object();
    if (w == nullptr || !w->contains("start") || !w->contains("end") || !w->at("start").is_string() ||
        !w->at("end").is_string()) {
      return Status::InvalidArgument(f + ": must be {\"days\", \"start\": \"HH:MM\", \"end\": \"HH:MM\"}");
    }
    Window win;
    if (const json::value* d = w->if_contains("days")) {
      if (!d->is_string()) return Status::InvalidArgument(f + ".days: must be a string such as mon-fri");
      OUTFLOW_ASSIGN_OR_RETURN(win.weekdays, ParseWeekdays(d->as_string(), f + ".days"));
    }
    OUTFLOW_ASSIGN_OR_RETURN(win.start_minute, ParseLocalTime(w->at("start").as_string(), f + ".start"));
    OUTFLOW_ASSIGN_OR_RETURN(win.end_minute, ParseLocalTime(w->at("end").as_string(), f + ".end"));
    out.push_back(win);
  }
  return out;
}

json::array WindowsToJson(const std::vector<Window>& windows) {
  json::array out;
  for (const Window& w : windows) {
    out.push_back(json::object{{"days", FormatWeekdays(w.weekdays)},
                               {"start", FormatLocalTime(w.start_minute)},
                               {"end", FormatLocalTime(w.end_minute)}});
  }
  return out;
}

}  // namespace outflow::api
