// HttpServer over real connections on 127.0.0.1, with libcurl as the client: the
// peer and client addresses a handler sees, X-Forwarded-* from trusted and untrusted
// peers, and HTTPS with a self-signed certificate made here with OpenSSL's API.
#include "api/http_server.h"

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace outflow::api {
namespace {

// Answers every request with what the server made of it: "peer client secure".
HttpResponse Echo(const HttpRequest& r) {
  return {200, "text/plain", r.peer_address + " " + r.client_address + " " + (r.secure ? "secure" : "plain"), {}};
}

struct Reply {
  CURLcode rc = CURLE_OK;
  long status = 0;
  std::string body;
};

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// One request; `ca_file` set: verify the server against it.
Reply Get(const std::string& url, const std::vector<std::string>& headers = {}, const std::string& ca_file = "") {
  CURL* c = curl_easy_init();
  Reply r;
  curl_slist* list = nullptr;
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_PROXY, "");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  if (!ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, ca_file.c_str());
  r.rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(list);
  curl_easy_cleanup(c);
  return r;
}

std::vector<net::Cidr> Cidrs(const std::vector<std::string>& texts) {
  Result<std::vector<net::Cidr>> r = net::ParseCidrs(texts, "test");
  EXPECT_OK(r);
  return r.ok() ? r.value() : std::vector<net::Cidr>{};
}

// A server on 127.0.0.1 with `options` (host and port are set here).
std::unique_ptr<HttpServer> Serve(HttpServer::Options options) {
  options.host = "127.0.0.1";
  options.port = 0;
  options.threads = 1;
  auto server = std::make_unique<HttpServer>(std::move(options), Echo);
  EXPECT_OK(server->Start());
  return server;
}

std::string Url(const HttpServer& s, std::string_view scheme = "http") {
  return std::string(scheme) + "://127.0.0.1:" + std::to_string(s.port()) + "/who";
}

TEST(HttpServer, ALocalClientIsItsOwnPeerAndClient) {
  auto server = Serve({});
  Reply r = Get(Url(*server));
  ASSERT_EQ(r.rc, CURLE_OK) << curl_easy_strerror(r.rc);
  EXPECT_EQ(r.body, "127.0.0.1 127.0.0.1 plain");
}

TEST(HttpServer, ForwardedHeadersFromAPeerThatIsNotATrustedProxyAreIgnored) {
  HttpServer::Options o;
  o.trusted_proxies = Cidrs({"10.0.0.0/8"});
  auto server = Serve(o);
  Reply r = Get(Url(*server), {"X-Forwarded-For: 203.0.113.7", "X-Forwarded-Proto: https"});
  ASSERT_EQ(r.rc, CURLE_OK) << curl_easy_strerror(r.rc);
  EXPECT_EQ(r.body, "127.0.0.1 127.0.0.1 plain");
}

TEST(HttpServer, ATrustedProxyNamesTheClientAndTheScheme) {
  HttpServer::Options o;
  o.trusted_proxies = Cidrs({"127.0.0.0/8"});
  auto server = Serve(o);
  // The left entry is whatever the client claimed; the proxy appended 203.0.113.7.
  Reply r = Get(Url(*server), {"X-Forwarded-For: 198.51.100.1, 203.0.113.7", "X-Forwarded-Proto: https"});
  ASSERT_EQ(r.rc, CURLE_OK) << curl_easy_strerror(r.rc);
  EXPECT_EQ(r.body, "127.0.0.1 203.0.113.7 secure");
  r = Get(Url(*server), {"X-Forwarded-For: 203.0.113.7", "X-Forwarded-Proto: http"});
  EXPECT_EQ(r.body, "127.0.0.1 203.0.113.7 plain");
  r = Get(Url(*server));  // a trusted peer without the headers is the client itself
  EXPECT_EQ(r.body, "127.0.0.1 127.0.0.1 plain");
}

// A self-signed certificate for 127.0.0.1 and localhost, and its key, as PEM files.
struct TestCert {
  std::string cert_file;
  std::string key_file;
};

std::string Pem(const std::function<int(BIO*)>& write) {
  BIO* bio = BIO_new(BIO_s_mem());
  EXPECT_EQ(write(bio), 1);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

void AddExtension(X509* x, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  ASSERT_NE(ext, nullptr);
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
}

TestCert MakeCert(const outflow::testing::TempDir& dir, const std::string& name) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME* subject = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1,
                             0);
  X509_set_issuer_name(x, subject);
  AddExtension(x, NID_basic_constraints, "critical,CA:TRUE");
  AddExtension(x, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
  EXPECT_GT(X509_sign(x, key, EVP_sha256()), 0);
  TestCert c{dir.File(name + ".crt"), dir.File(name + ".key")};
  std::ofstream(c.cert_file) << Pem([&](BIO* b) { return PEM_write_bio_X509(b, x); });
  std::ofstream(c.key_file) << Pem(
      [&](BIO* b) { return PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr); });
  X509_free(x);
  EVP_PKEY_free(key);
  return c;
}

TEST(HttpServer, ServesHttpsToAClientThatVerifiesTheCertificate) {
  outflow::testing::TempDir dir;
  TestCert cert = MakeCert(dir, "server");
  HttpServer::Options o;
  o.tls_cert_file = cert.cert_file;
  o.tls_key_file = cert.key_file;
  auto server = Serve(o);
  Reply r = Get(Url(*server, "https"), {}, cert.cert_file);
  ASSERT_EQ(r.rc, CURLE_OK) << curl_easy_strerror(r.rc);
  EXPECT_EQ(r.body, "127.0.0.1 127.0.0.1 secure");
  // The same name through "localhost" verifies too (the certificate names both).
  r = Get("https://localhost:" + std::to_string(server->port()) + "/who", {}, cert.cert_file);
  EXPECT_EQ(r.rc, CURLE_OK) << curl_easy_strerror(r.rc);

  // A client that trusts another certificate refuses the server.
  TestCert other = MakeCert(dir, "other");
  EXPECT_EQ(Get(Url(*server, "https"), {}, other.cert_file).rc, CURLE_PEER_FAILED_VERIFICATION);
  // Plain HTTP to the TLS port gets no answer, and the server serves on.
  r = Get(Url(*server, "http"));
  EXPECT_NE(r.rc, CURLE_OK);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(Get(Url(*server, "https"), {}, cert.cert_file).rc, CURLE_OK);
}

TEST(HttpServer, AClientThatNeverStartsItsHandshakeIsDroppedAfterTheTimeout) {
  outflow::testing::TempDir dir;
  TestCert cert = MakeCert(dir, "server");
  HttpServer::Options o;
  o.tls_cert_file = cert.cert_file;
  o.tls_key_file = cert.key_file;
  o.handshake_timeout = std::chrono::seconds(1);
  auto server = Serve(o);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(server->port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const auto start = std::chrono::steady_clock::now();
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 5000), 1) << "the server kept a silent connection open";
  char byte;
  EXPECT_LE(read(fd, &byte, 1), 0);  // closed, nothing sent
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));
  close(fd);
}

TEST(HttpServer, BadTlsFilesFailTheStartNamingThem) {
  outflow::testing::TempDir dir;
  TestCert a = MakeCert(dir, "a");
  TestCert b = MakeCert(dir, "b");
  auto start = [](std::string cert, std::string key) {
    HttpServer::Options o;
    o.port = 0;
    o.tls_cert_file = std::move(cert);
    o.tls_key_file = std::move(key);
    HttpServer s(o, Echo);
    return s.Start();
  };
  EXPECT_ERROR(start(dir.File("missing.crt"), a.key_file), Code::kInvalidArgument,
               "TLS certificate " + dir.File("missing.crt"));
  EXPECT_ERROR(start(a.cert_file, dir.File("missing.key")), Code::kInvalidArgument, "TLS private key");
  EXPECT_ERROR(start(a.cert_file, b.key_file), Code::kInvalidArgument, "does not match the certificate");
  EXPECT_ERROR(start(a.cert_file, ""), Code::kInvalidArgument, "both a certificate and a private key");
  EXPECT_OK(start(a.cert_file, a.key_file));
}

}  // namespace
}  // namespace outflow::api
