// Who a request came from when it passed through reverse proxies we trust
// (docs/security.md, "Behind a reverse proxy").
//
// X-Forwarded-For lists the addresses a request passed, each proxy appending the
// peer it heard from. Only the entries our trusted proxies appended can be
// believed, so the client is the rightmost entry that is not itself a trusted
// proxy; entries left of it may be forged by the client. An entry that is not an IP
// address ends the walk (the last believable address is kept). X-Forwarded-Proto:
// its rightmost value, set by the proxy nearest us, says whether the client spoke
// HTTPS to it. Headers from a peer that is not a trusted proxy are never read.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "net/outbound_policy.h"

namespace outflow::net {

struct ForwardedClient {
  std::string address;  // the client's IP address
  bool https = false;   // the client spoke HTTPS to the proxy
};

// `forwarded_for` and `forwarded_proto`: the values of every X-Forwarded-For and
// X-Forwarded-Proto header, in the order received.
// REQUIRES: `peer` is in `trusted`.
ForwardedClient ClientBehindProxies(std::string_view peer, const std::vector<std::string_view>& forwarded_for,
                                    const std::vector<std::string_view>& forwarded_proto,
                                    const std::vector<Cidr>& trusted);

}  // namespace outflow::net
