#include "net/forwarded.h"

namespace outflow::net {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The comma-separated items of all the values, rightmost first.
std::vector<std::string_view> RightToLeft(const std::vector<std::string_view>& values) {
  std::vector<std::string_view> items;
  for (auto v = values.rbegin(); v != values.rend(); ++v) {
    std::string_view rest = *v;
    for (;;) {
      size_t comma = rest.rfind(',');
      items.push_back(Trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1)));
      if (comma == std::string_view::npos) break;
      rest = rest.substr(0, comma);
    }
  }
  return items;
}

}  // namespace

ForwardedClient ClientBehindProxies(std::string_view peer, const std::vector<std::string_view>& forwarded_for,
                                    const std::vector<std::string_view>& forwarded_proto,
                                    const std::vector<Cidr>& trusted) {
  ForwardedClient c;
  std::string_view client = peer;
  for (std::string_view hop : RightToLeft(forwarded_for)) {
    if (!ParseIp(hop)) break;  // garbage: nothing left of it can be believed
    client = hop;
    if (!AnyContains(trusted, hop)) break;
  }
  c.address = std::string(client);
  std::vector<std::string_view> protos = RightToLeft(forwarded_proto);
  c.https = !protos.empty() && (protos.front() == "https" || protos.front() == "HTTPS");
  return c;
}

}  // namespace outflow::net
