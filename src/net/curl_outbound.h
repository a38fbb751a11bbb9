// CurlOutbound: puts an OutboundPolicy on a libcurl easy handle.
//
// Install() sets CURLOPT_OPENSOCKETFUNCTION, so the policy judges the resolved
// address of every socket curl opens for the handle: the first connection, each
// address tried for a name (happy eyeballs), and a redirect's. A refused address gets
// no socket (CURL_SOCKET_BAD); curl tries the next one or fails the transfer with
// CURLE_COULDNT_CONNECT, and Refusal() then says why. Install() also turns off
// proxies from the environment (http_proxy, https_proxy, all_proxy): through a proxy
// the address connected to would be the proxy's, not the destination's, and the
// policy could not judge it (docs/security.md).
//
// Lifecycle: one CurlOutbound per easy handle; it must outlive the handle's
// transfers and not move (curl keeps its address). Install() again after
// curl_easy_reset(); Clear() before each transfer.
// Thread-safety: used by the thread that runs the handle's transfers.
#pragma once

#include <curl/curl.h>

#include <optional>
#include <string>

#include "net/outbound_policy.h"

namespace outflow::net {

class CurlOutbound {
 public:
  CurlOutbound() = default;
  CurlOutbound(const CurlOutbound&) = delete;
  CurlOutbound& operator=(const CurlOutbound&) = delete;

  // REQUIRES: `policy` outlives this object.
  void Install(CURL* easy, const OutboundPolicy& policy);
  void Clear();
  // After a failed transfer: the policy's reason when it refused every address
  // curl tried (a transfer that reached an allowed address failed for another reason).
  std::optional<std::string> Refusal() const;

 private:
  static curl_socket_t OpenSocket(void* self, curlsocktype purpose, curl_sockaddr* address);

  const OutboundPolicy* policy_ = nullptr;
  std::optional<std::string> refused_;
  int allowed_ = 0;
};

}  // namespace outflow::net
