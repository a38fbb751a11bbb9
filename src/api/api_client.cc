#include "api/api_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace outflow::api {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

Result<ApiClient> ApiClient::Create(const std::string& base_url, const std::string& api_key) {
  constexpr std::string_view kScheme = "http://";
  if (!base_url.starts_with(kScheme)) {
    return Status::InvalidArgument("server: '" + base_url + "' must start with http://");
  }
  std::string rest = base_url.substr(kScheme.size());
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  auto colon = rest.rfind(':');
  ApiClient c;
  c.base_url_ = base_url;
  c.api_key_ = api_key;
  if (colon == std::string::npos || rest.find(']', colon) != std::string::npos) {
    c.host_ = rest;
    c.port_ = "80";
  } else {
    c.host_ = rest.substr(0, colon);
    c.port_ = rest.substr(colon + 1);
  }
  if (c.host_.size() >= 2 && c.host_.front() == '[') c.host_ = c.host_.substr(1, c.host_.size() - 2);
  if (c.host_.empty()) return Status::InvalidArgument("server: '" + base_url + "' has no host");
  return c;
}

Result<ApiReply> ApiClient::Call(const std::string& method, const std::string& target, const std::string& body) {
  try {
    asio::io_context ioc;
    asio::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::seconds(60));
    stream.connect(resolver.resolve(host_, port_));
    http::request<http::string_body> req(http::string_to_verb(method), target, 11);
    req.set(http::field::host, host_);
    req.set(http::field::user_agent, "outflow-cli");
    if (!api_key_.empty()) req.set(http::field::authorization, "Bearer " + api_key_);
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256 * 1024 * 1024);
    http::read(stream, buf, parser);
    beast::error_code ec;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    return ApiReply{static_cast<int>(parser.get().result_int()), std::move(parser.get().body())};
  } catch (const beast::system_error& e) {
    return Status::Unavailable("cannot reach outflow at " + base_url_ + ": " + e.code().message() +
                               " (is 'outflow serve' running? set --server or OUTFLOW_SERVER)");
  }
}

Result<ApiReply> ApiClient::Upload(const std::string& target, const std::string& path) {
  http::request<http::file_body> req(http::verb::post, target, 11);
  beast::error_code fec;
  req.body().open(path.c_str(), beast::file_mode::scan, fec);
  if (fec) return Status::InvalidArgument("cannot read " + path + ": " + fec.message());
  req.set(http::field::host, host_);
  req.set(http::field::user_agent, "outflow-cli");
  req.set(http::field::content_type, "text/csv");
  if (!api_key_.empty()) req.set(http::field::authorization, "Bearer " + api_key_);
  req.prepare_payload();
  try {
    asio::io_context ioc;
    asio::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.connect(resolver.resolve(host_, port_));
    beast::error_code write_ec;
    http::write(stream, req, write_ec);
    // The server may answer early (413) and close while we still send: read its answer anyway.
    stream.expires_after(std::chrono::seconds(300));
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    beast::error_code read_ec;
    http::read(stream, buf, parser, read_ec);
    if (read_ec) throw beast::system_error(write_ec ? write_ec : read_ec);
    beast::error_code ec;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    return ApiReply{static_cast<int>(parser.get().result_int()), std::move(parser.get().body())};
  } catch (const beast::system_error& e) {
    return Status::Unavailable("cannot reach outflow at " + base_url_ + ": " + e.code().message() +
                               " (is 'outflow serve' running? set --server or OUTFLOW_SERVER)");
  }
}

}  // namespace outflow::api
