#include "net/curl_outbound.h"

#include <sys/socket.h>

namespace outflow::net {

void CurlOutbound::Install(CURL* easy, const OutboundPolicy& policy) {
  policy_ = &policy;
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &CurlOutbound::OpenSocket);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, this);
  curl_easy_setopt(easy, CURLOPT_PROXY, "");  // "" turns off the environment's proxies too
  Clear();
}

void CurlOutbound::Clear() {
  refused_.reset();
  allowed_ = 0;
}

std::optional<std::string> CurlOutbound::Refusal() const {
  return allowed_ == 0 ? refused_ : std::nullopt;
}

curl_socket_t CurlOutbound::OpenSocket(void* self, curlsocktype /*purpose*/, curl_sockaddr* address) {
  auto* me = static_cast<CurlOutbound*>(self);
  if (std::optional<std::string> why = me->policy_->Check(&address->addr)) {
    if (!me->refused_) me->refused_ = std::move(why);
    return CURL_SOCKET_BAD;
  }
  ++me->allowed_;
  return socket(address->family, address->socktype, address->protocol);
}

}  // namespace outflow::net
