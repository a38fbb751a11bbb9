// HttpServer: an HTTP/1.1 server on Boost.Beast/Asio. A few I/O threads serve
// any number of keep-alive connections (no thread per connection); each complete
// request is passed to one Handler, synchronously on an I/O thread.
//
// Limits: headers 16 KiB; bodies `body_limit` bytes (a larger body gets 413
// before it is read), uploads `upload_limit`; a connection idle for `idle_timeout` is closed.
// "Expect: 100-continue" is answered, so clients do not stall.
// HTTPS: with a certificate and key every connection speaks TLS 1.2 or later (a
// client that does not finish its handshake in `handshake_timeout` is dropped;
// plain HTTP on that port gets its connection closed). Behind reverse proxies,
// only `trusted_proxies` are believed about the client (HttpRequest::client_address).
// Lifecycle: Start() binds and serves; StopAccepting() closes the listener;
// Stop() closes every connection and joins the threads. The Handler must be
// thread-safe: it runs on several I/O threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "net/outbound_policy.h"

namespace outflow::api {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
  std::string body;
  // For an upload route: the file the body was streamed to (and `body` is empty).
  // The handler may move it away; whatever is left there is deleted afterwards.
  std::string upload_file;
  std::vector<std::pair<std::string, std::string>> headers;
  // The TCP peer's IP address ("127.0.0.1", "::1"); empty when unknown.
  std::string peer_address;
  // The client's IP address: the peer, or, when the peer is a trusted proxy, the
  // client it names in X-Forwarded-For (net/forwarded.h). For audit logs and limits.
  std::string client_address;
  // True when the request came over TLS, to us or (X-Forwarded-Proto: https) to a
  // trusted proxy. For the Secure flag of cookies.
  bool secure = false;
  // First value of a header, case-insensitive; empty when absent.
  std::string_view Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

class HttpServer {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    uint16_t port = 8080;  // 0: any free port, see port()
    int threads = 2;
    size_t body_limit = 8 * 1024 * 1024;
    std::chrono::seconds idle_timeout{60};
    // POST bodies to these paths are streamed to a file in upload_dir (never held
    // in memory), up to upload_limit bytes; a client that disconnects mid-upload
    // leaves no file behind.
    std::vector<std::string> upload_paths;
    std::string upload_dir;
    uint64_t upload_limit = uint64_t{1} << 30;
    // Asked with an upload's method, target and headers (no body) before any of
    // the body is read: a response refuses it there (e.g. 401 without a key), so
    // nobody can fill the disk without credentials. Empty: every upload is read.
    std::function<std::optional<HttpResponse>(const HttpRequest&)> upload_gate;
    // HTTPS: PEM files of the certificate chain and its private key; both empty:
    // plain HTTP. Start() fails with InvalidArgument for an unreadable file or a key
    // that does not match the certificate.
    std::string tls_cert_file;
    std::string tls_key_file;
    std::chrono::seconds handshake_timeout{10};
    // Peers whose X-Forwarded-For and X-Forwarded-Proto are believed; empty: none.
    std::vector<net::Cidr> trusted_proxies;
  };
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  HttpServer(Options options, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Loads the TLS files, binds and starts the I/O threads. Unavailable when the
  // address is in use; InvalidArgument for bad TLS files.
  Status Start();
  uint16_t port() const;
  void StopAccepting();
  void Stop();

  struct Impl;  // defined in http_server.cc only

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace outflow::api
