// The outbound policy of tests whose sinks and fakes listen on 127.0.0.1 or ::1:
// the default deny set with loopback allowed, as `serve --outbound-allow` would.
#pragma once

#include "net/outbound_policy.h"

namespace outflow::testing {

inline const net::OutboundPolicy& LoopbackAllowed() {
  static const net::OutboundPolicy policy({net::ParseCidr("127.0.0.0/8").value(), net::ParseCidr("::1").value()});
  return policy;
}

}  // namespace outflow::testing
