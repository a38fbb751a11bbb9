#include "codec/windows_json.h"

#include <boost/json.hpp>

namespace outflow {

namespace json = boost::json;

std::string EncodeWindowsColumn(const std::vector<Window>& windows) {
  json::array a;
  for (const Window& w : windows) a.push_back(json::array{w.weekdays, w.start_minute, w.end_minute});
  return json::serialize(a);
}

std::vector<Window> DecodeWindowsColumn(std::string_view text) {
  std::vector<Window> out;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& w : v.as_array()) {
    if (!w.is_array() || w.as_array().size() != 3) continue;
    const auto& a = w.as_array();
    if (!a[0].is_number() || !a[1].is_number() || !a[2].is_number()) continue;
    out.push_back({static_cast<uint8_t>(a[0].to_number<int64_t>()), static_cast<int>(a[1].to_number<int64_t>()),
                   static_cast<int>(a[2].to_number<int64_t>())});
  }
  return out;
}

}  // namespace outflow
