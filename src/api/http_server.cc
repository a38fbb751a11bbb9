#include "api/http_server.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <atomic>
#include <filesystem>
#include <optional>
#include <random>
#include <thread>

#include "base/log.h"
#include "net/forwarded.h"

namespace outflow::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

std::string ErrorJson(std::string_view code, std::string_view message) {
  std::string s = "{\"error\":{\"code\":";
  log::AppendJsonString(s, code);
  s += ",\"message\":";
  log::AppendJsonString(s, message);
  s += "}}";
  return s;
}

}  // namespace

std::string_view HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (IEquals(k, name)) return v;
  }
  return {};
}

struct HttpServer::Impl {
  Options options;
  Handler handler;
  asio::io_context ioc;
  std::optional<ssl::context> tls;  // set: every connection speaks TLS
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  std::atomic<uint16_t> bound_port{0};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;

  Impl(Options o, Handler h) : options(std::move(o)), handler(std::move(h)), ioc(options.threads) {}

  void Accept();
  Status LoadTls();
};

namespace {

// One connection. `Stream` is beast::tcp_stream (plain HTTP) or an ssl_stream over
// one (HTTPS): a template, so the plain path pays nothing for TLS.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;
  static constexpr size_t kBodyReadBytes = 64 * 1024;  // Beast's largest read
  template <class... TlsContext>
  Session(tcp::socket&& socket, HttpServer::Impl* server, TlsContext&... tls)
      : stream_(std::move(socket), tls...), server_(server) {
    beast::error_code ec;
    tcp::endpoint peer = Lowest().socket().remote_endpoint(ec);
    if (!ec) peer_address_ = peer.address().to_string();
    peer_trusted_ = !ec && net::AnyContains(server_->options.trusted_proxies, peer_address_);
  }
  ~Session() {
    if (!upload_parser_) return;  // torn down mid-upload (server stopping): leave no file behind
    upload_parser_->get().body().close();
    std::error_code ec;
    std::filesystem::remove(upload_path_, ec);
  }

  void Run() {
    if constexpr (kTls) {
      asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::Handshake, this->shared_from_this()));
    } else {
      asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::ReadHeader, this->shared_from_this()));
    }
  }

 private:
  using std::enable_shared_from_this<Session<Stream>>::shared_from_this;

  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  // TLS only: a client that does not finish its handshake in time is dropped.
  void Handshake() {
    Lowest().expires_after(server_->options.handshake_timeout);
    stream_.async_handshake(ssl::stream_base::server, [self = shared_from_this()](beast::error_code ec) {
      if (ec) {
        self->Lowest().socket().close(ec);  // e.g. plain HTTP on the TLS port: nothing to answer
        return;
      }
      self->ReadHeader();
    });
  }

  // Who sent the request, and over what: the peer, unless the peer is a trusted
  // proxy, which names the client in X-Forwarded-For (net/forwarded.h).
  void Stamp(HttpRequest& r) const {
    r.peer_address = peer_address_;
    r.secure = kTls;
    if (!peer_trusted_) {
      r.client_address = peer_address_;
      return;
    }
    std::vector<std::string_view> forwarded_for;
    std::vector<std::string_view> forwarded_proto;
    for (const auto& [k, v] : r.headers) {
      if (IEquals(k, "x-forwarded-for")) forwarded_for.push_back(v);
      if (IEquals(k, "x-forwarded-proto")) forwarded_proto.push_back(v);
    }
    net::ForwardedClient c =
        net::ClientBehindProxies(peer_address_, forwarded_for, forwarded_proto, server_->options.trusted_proxies);
    r.client_address = std::move(c.address);
    r.secure = r.secure || c.https;
  }

  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    // The header parser would refuse a Content-Length over its body limit before we can
    // tell an upload route from another; OnHeader checks the length against the right limit.
    parser_->body_limit(std::max<uint64_t>(server_->options.body_limit, server_->options.upload_limit));
    Lowest().expires_after(server_->options.idle_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  void OnHeader(beast::error_code ec, size_t) {
    if (ec) return OnReadError(ec);
    auto& req = parser_->get();
    auto length = parser_->content_length();
    std::string_view target(req.target().data(), req.target().size());
    std::string_view path = target.substr(0, target.find('?'));
    const auto& uploads = server_->options.upload_paths;
    const bool upload =
        req.method() == http::verb::post && std::find(uploads.begin(), uploads.end(), path) != uploads.end();
    const uint64_t limit = upload ? server_->options.upload_limit : server_->options.body_limit;
    if (length && *length > limit) {
      return SendError(413, "payload_too_large",
                       std::string(upload ? "upload" : "request body") + " of " + std::to_string(*length) +
                           " bytes is over the limit of " + std::to_string(limit) + " bytes",
                       /*close=*/true);
    }
    if (upload && server_->options.upload_gate) {
      HttpRequest head;
      head.method = std::string(req.method_string());
      head.target = std::string(req.target());
      for (const auto& f : req) head.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      Stamp(head);
      if (std::optional<HttpResponse> refused = server_->options.upload_gate(head)) {
        return Send(std::move(*refused), /*close=*/true, req.version());
      }
    }
    auto expect = req[http::field::expect];
    if (IEquals(std::string_view(expect.data(), expect.size()), "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, req.version());
      http::async_write(stream_, *cont, [self = shared_from_this(), cont, upload](beast::error_code wec, size_t) {
        if (wec) return;
        upload ? self->ReadUpload() : self->ReadBody();
      });
      return;
    }
    upload ? ReadUpload() : ReadBody();
  }

  // Beast reads max(512, free buffer capacity) bytes at a time, at most 64 KiB:
  // after the headers the buffer has a few hundred bytes free, so without this a
  // large body came in 512-byte reads (a 119 MB upload: 233,000 reads, 1.7 s; now
  // 0.25 s). Only for large bodies: an idle connection keeps a small buffer.
  void ReserveForBody() { buffer_.reserve(buffer_.size() + kBodyReadBytes); }

  // Streams the body into a new file under upload_dir.
  void ReadUpload() {
    std::error_code fec;
    std::filesystem::create_directories(server_->options.upload_dir, fec);
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    upload_path_ =
        (std::filesystem::path(server_->options.upload_dir) / ("upload-" + std::to_string(rng()) + ".part")).string();
    upload_parser_.emplace(std::move(*parser_));
    upload_parser_->body_limit(server_->options.upload_limit);
    beast::error_code ec;
    upload_parser_->get().body().open(upload_path_.c_str(), beast::file_mode::write, ec);
    if (ec) {
      upload_parser_.reset();
      return SendError(503, "unavailable", "cannot store the upload: " + ec.message(), true);
    }
    ReserveForBody();
    ReadUploadPiece();
  }

  // One piece of the upload at a time, re-arming the idle timer for each: a slow
  // but live upload is never cut off, a stalled one is after idle_timeout.
  void ReadUploadPiece() {
    if (upload_parser_->is_done()) return OnUploadRead({}, 0);  // e.g. Content-Length: 0
    Lowest().expires_after(server_->options.idle_timeout);
    http::async_read_some(stream_, buffer_, *upload_parser_,
                          [self = shared_from_this()](beast::error_code ec, size_t n) {
                            if (!ec && !self->upload_parser_->is_done()) return self->ReadUploadPiece();
                            self->OnUploadRead(ec, n);
                          });
  }

  void OnUploadRead(beast::error_code ec, size_t) {
    auto drop_file = [&] {
      if (upload_parser_) upload_parser_->get().body().close();
      std::error_code fec;
      std::filesystem::remove(upload_path_, fec);
    };
    if (ec) {
      drop_file();  // an interrupted upload leaves nothing behind
      upload_parser_.reset();
      if (ec == http::error::body_limit) {
        return SendError(413, "payload_too_large",
                         "upload is over the limit of " + std::to_string(server_->options.upload_limit) + " bytes",
                         true);
      }
      return Close();
    }
    auto& req = upload_parser_->get();
    req.body().close();
    HttpRequest r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    r.upload_file = upload_path_;
    for (const auto& f : req) r.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    Stamp(r);
    const bool keep_alive = req.keep_alive();
    const unsigned version = req.version();
    upload_parser_.reset();
    HttpResponse resp;
    try {
      resp = server_->handler(r);
    } catch (const std::exception& e) {
      log::Error("request handler threw", {{"target", r.target}, {"error", e.what()}});
      resp = HttpResponse{500, "application/json", ErrorJson("internal", "internal error"), {}};
    }
    std::error_code fec;
    std::filesystem::remove(upload_path_, fec);  // unless the handler took it
    Send(std::move(resp), !keep_alive, version);
  }

  void ReadBody() {
    parser_->body_limit(server_->options.body_limit);  // also bounds a chunked body
    if (parser_->content_length().value_or(0) > 4096) ReserveForBody();
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == ssl::error::stream_truncated) {
      return Close();
    }
    if (ec == http::error::body_limit) {
      return SendError(413, "payload_too_large",
                       "request body is over the limit of " + std::to_string(server_->options.body_limit) + " bytes",
                       true);
    }
    if (ec == http::error::header_limit) {
      return SendError(431, "headers_too_large", "request headers are over the limit of 16384 bytes", true);
    }
    return SendError(400, "bad_request", "malformed HTTP request: " + ec.message(), true);
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec) return OnReadError(ec);
    http::request<http::string_body> req = parser_->release();
    HttpRequest r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    r.body = std::move(req.body());
    for (const auto& f : req) r.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    Stamp(r);
    HttpResponse resp;
    try {
      resp = server_->handler(r);
    } catch (const std::exception& e) {
      log::Error("request handler threw", {{"target", r.target}, {"error", e.what()}});
      resp = HttpResponse{500, "application/json", ErrorJson("internal", "internal error"), {}};
    }
    Send(std::move(resp), !req.keep_alive(), req.version(), req.method() == http::verb::head);
  }

  void SendError(int status, std::string_view code, const std::string& message, bool close) {
    Send(HttpResponse{status, "application/json", ErrorJson(code, message), {}}, close, 11);
  }

  void Send(HttpResponse resp, bool close, unsigned version, bool head = false) {
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(resp.status), version);
    res->set(http::field::server, "outflow");
    res->set(http::field::content_type, resp.content_type);
    for (auto& [k, v] : resp.headers) res->set(k, v);
    res->body() = std::move(resp.body);
    res->keep_alive(!close);
    res->prepare_payload();
    if (head) res->body().clear();  // HEAD: the GET response's headers, Content-Length included, no body
    Lowest().expires_after(server_->options.idle_timeout);
    http::async_write(stream_, *res, [self = shared_from_this(), res, close](beast::error_code ec, size_t) {
      if (ec) return;
      if (close) return self->Close();
      self->ReadHeader();
    });
  }

  void Close() {
    if constexpr (kTls) {
      // close_notify, bounded: a peer that never answers it does not hold the connection.
      Lowest().expires_after(std::chrono::seconds(5));
      stream_.async_shutdown([self = shared_from_this()](beast::error_code) {
        beast::error_code ignored;
        self->Lowest().socket().close(ignored);
      });
    } else {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    }
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::request_parser<http::file_body>> upload_parser_;
  std::string upload_path_;
  std::string peer_address_;
  bool peer_trusted_ = false;
  HttpServer::Impl* server_;
};

}  // namespace

void HttpServer::Impl::Accept() {
  acceptor->async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
    if (!ec && tls) {
      std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(std::move(socket), this, *tls)->Run();
    } else if (!ec) {
      std::make_shared<Session<beast::tcp_stream>>(std::move(socket), this)->Run();
    }
    Accept();
  });
}

HttpServer::HttpServer(Options options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() {
  Stop();
}

// TLS 1.2 and later, with the certificate chain and key from PEM files; a key that
// does not match the certificate is refused here, not at the first handshake.
Status HttpServer::Impl::LoadTls() {
  if (options.tls_cert_file.empty() && options.tls_key_file.empty()) return Status::Ok();
  if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
    return Status::InvalidArgument("TLS needs both a certificate and a private key");
  }
  tls.emplace(ssl::context::tls_server);
  tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
  beast::error_code ec;
  tls->use_certificate_chain_file(options.tls_cert_file, ec);
  if (ec) return Status::InvalidArgument("TLS certificate " + options.tls_cert_file + ": " + ec.message());
  tls->use_private_key_file(options.tls_key_file, ssl::context::pem, ec);
  const bool mismatch = ec && ec.category() == asio::error::get_ssl_category() &&
                        ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == X509_R_KEY_VALUES_MISMATCH;
  if (ec && !mismatch) return Status::InvalidArgument("TLS private key " + options.tls_key_file + ": " + ec.message());
  if (mismatch || SSL_CTX_check_private_key(tls->native_handle()) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument("TLS private key " + options.tls_key_file + " does not match the certificate " +
                                   options.tls_cert_file);
  }
  return Status::Ok();
}

Status HttpServer::Start() {
  OUTFLOW_RETURN_IF_ERROR(impl_->LoadTls());
  beast::error_code ec;
  auto address = asio::ip::make_address(impl_->options.host, ec);
  if (ec) return Status::InvalidArgument("listen address '" + impl_->options.host + "': " + ec.message());
  tcp::endpoint ep(address, impl_->options.port);
  impl_->acceptor.emplace(impl_->ioc);
  impl_->acceptor->open(ep.protocol(), ec);
  if (!ec) impl_->acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor->bind(ep, ec);
  if (!ec) impl_->acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("cannot listen on " + impl_->options.host + ":" + std::to_string(impl_->options.port) +
                               ": " + ec.message());
  }
  impl_->bound_port = impl_->acceptor->local_endpoint().port();
  impl_->work.emplace(impl_->ioc.get_executor());
  impl_->Accept();
  for (int i = 0; i < std::max(1, impl_->options.threads); ++i) {
    impl_->threads.emplace_back([this] { impl_->ioc.run(); });
  }
  return Status::Ok();
}

uint16_t HttpServer::port() const {
  return impl_->bound_port;
}

void HttpServer::StopAccepting() {
  asio::post(impl_->ioc, [this] {
    beast::error_code ec;
    if (impl_->acceptor) impl_->acceptor->close(ec);
  });
}

void HttpServer::Stop() {
  if (impl_->threads.empty()) return;
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

}  // namespace outflow::api
