#include "channels/smtp/smtp_sender.h"

#include <curl/curl.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <vector>

#include "channels/smtp/mime.h"
#include "net/curl_outbound.h"

namespace outflow::channels {

namespace json = boost::json;

namespace {

constexpr int kMaxConnections = 64;
constexpr int kMaxTimeoutMs = 600'000;
constexpr size_t kMaxReplyBytes = 1024;

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

Status Bad(std::string_view field, std::string_view what) {
  return Status::InvalidArgument(std::string(field) + ": " + std::string(what));
}

Result<std::string> GetString(const json::value& v, std::string_view field) {
  if (!v.is_string()) return Bad(field, "must be a string");
  std::string s(v.as_string());
  if (s.find_first_of("\r\n") != std::string::npos) return Bad(field, "contains a line break");
  return s;
}

Result<int> GetInt(const json::value& v, std::string_view field, int lo, int hi) {
  if (!v.is_int64() && !v.is_uint64()) return Bad(field, "must be an integer");
  int64_t n = v.is_int64() ? v.as_int64() : static_cast<int64_t>(std::min<uint64_t>(v.as_uint64(), INT64_MAX));
  if (n < lo || n > hi) return Bad(field, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  return static_cast<int>(n);
}

// The server's replies of one transfer, as the header callback sees them.
struct ReplyLog {
  std::string pending;       // the text of a multi-line reply so far
  long last_error_code = 0;  // the last 4xx/5xx reply
  std::string last_error;    // its text, lines joined by a space

  void Clear() {
    pending.clear();
    last_error_code = 0;
    last_error.clear();
  }
  void OnLine(std::string_view line) {
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
    if (line.size() < 3 || !std::all_of(line.begin(), line.begin() + 3, [](char c) { return c >= '0' && c <= '9'; })) {
      return;
    }
    std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view();
    if (pending.size() < kMaxReplyBytes) {
      if (!pending.empty()) pending += ' ';
      pending.append(text.substr(0, kMaxReplyBytes));
    }
    if (line.size() > 3 && line[3] == '-') return;  // more lines follow
    long code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (code >= 400) {
      last_error_code = code;
      last_error = pending;
    }
    pending.clear();
  }
};

size_t OnReplyLine(char* data, size_t size, size_t n, void* user) {
  static_cast<ReplyLog*>(user)->OnLine(std::string_view(data, size * n));
  return size * n;
}

size_t Discard(char*, size_t size, size_t n, void*) {
  return size * n;
}

std::string UrlFor(const SmtpSettings& s) {
  std::string host = s.host.find(':') != std::string::npos ? "[" + s.host + "]" : s.host;
  std::string scheme = s.tls == SmtpSettings::Tls::kImplicit ? "smtps://" : "smtp://";
  std::string helo = s.helo_domain;
  if (helo.empty()) helo = s.from_address.substr(s.from_address.rfind('@') + 1);
  // curl takes the EHLO domain from the URL's path.
  return scheme + host + ":" + std::to_string(s.port) + "/" + helo;
}

// Options shared by the sending handles and Verify's handle.
void SetCommonOptions(CURL* c, const SmtpSettings& s, const std::string& url, ReplyLog* log, char* errbuf,
                      net::CurlOutbound& outbound, const net::OutboundPolicy& policy) {
  outbound.Install(c, policy);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(s.timeout_ms));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min(s.timeout_ms, 10'000)));
  curl_easy_setopt(
      c, CURLOPT_USE_SSL,
      s.tls == SmtpSettings::Tls::kStartTls ? static_cast<long>(CURLUSESSL_ALL) : static_cast<long>(CURLUSESSL_NONE));
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, s.verify_peer ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, s.verify_peer ? 2L : 0L);
  if (!s.username.empty()) {
    curl_easy_setopt(c, CURLOPT_USERNAME, s.username.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, s.password.c_str());
  }
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnReplyLine);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, log);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Discard);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
}

std::string CurlError(CURLcode rc, const char* errbuf) {
  return errbuf[0] != '\0' ? std::string(errbuf) : std::string(curl_easy_strerror(rc));
}

// The outcome of one transfer. The reply code and text come from this transfer's
// own reply log (every reply line passes the header callback), not from
// CURLINFO_RESPONSE_CODE, which can still hold an earlier transfer's code when a
// reused handle fails before the server says anything.
SendResult Classify(CURLcode rc, const ReplyLog& log, const char* errbuf, const std::string& message_id,
                    const net::CurlOutbound& outbound) {
  SendResult r;
  if (rc == CURLE_OK) {
    r.outcome = SendOutcome::kSent;
    r.provider_id = message_id;
    return r;
  }
  if (std::optional<std::string> refused = outbound.Refusal()) {
    r.outcome = SendOutcome::kPermanent;  // the same address would be refused on every retry
    r.error = std::move(*refused);
    return r;
  }
  if (log.last_error_code >= 400 && log.last_error_code < 600) {
    r.outcome = log.last_error_code >= 500 ? SendOutcome::kPermanent : SendOutcome::kTransient;
    r.error = "SMTP " + std::to_string(log.last_error_code);
    if (!log.last_error.empty()) r.error += ": " + log.last_error;
    return r;
  }
  r.outcome = SendOutcome::kTransient;
  r.error = "SMTP transfer failed: " + CurlError(rc, errbuf);
  return r;
}

class SmtpSender final : public ChannelSender {
 public:
  SmtpSender(SmtpSettings s, Clock& clock, const net::OutboundPolicy& outbound)
      : settings_(std::move(s)), clock_(clock), outbound_(outbound), url_(UrlFor(settings_)) {
    GlobalInit();
    from_ = {settings_.from_address, settings_.from_name, settings_.reply_to};
    multi_ = curl_multi_init();
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(settings_.connections));
    curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(settings_.connections));
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(settings_.connections));
    slots_ = std::vector<Slot>(static_cast<size_t>(settings_.connections));  // built in place: a Slot does not move
    for (Slot& slot : slots_) {
      slot.easy = curl_easy_init();
      SetCommonOptions(slot.easy, settings_, url_, &slot.log, slot.errbuf, slot.outbound, outbound_);
      curl_easy_setopt(slot.easy, CURLOPT_MAIL_FROM, settings_.from_address.c_str());
      curl_easy_setopt(slot.easy, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(slot.easy, CURLOPT_READFUNCTION, OnRead);
      curl_easy_setopt(slot.easy, CURLOPT_READDATA, &slot);
      curl_easy_setopt(slot.easy, CURLOPT_PRIVATE, &slot);
    }
  }

  ~SmtpSender() override {
    // Cleaning the multi handle closes its cached sessions with QUIT.
    for (Slot& slot : slots_) {
      if (slot.added) curl_multi_remove_handle(multi_, slot.easy);
    }
    curl_multi_cleanup(multi_);
    for (Slot& slot : slots_) {
      curl_easy_cleanup(slot.easy);
      curl_slist_free_all(slot.rcpt);
    }
  }

  SmtpSender(const SmtpSender&) = delete;
  SmtpSender& operator=(const SmtpSender&) = delete;

  std::vector<SendResult> SendBatch(std::span<const OutboundMessage> messages) override {
    std::vector<SendResult> results(messages.size());
    size_t next = 0;
    size_t running = 0;
    Timestamp now = clock_.Now();

    // Puts the next buildable message on `slot`; false when none is left.
    auto start_next = [&](Slot& slot) {
      while (next < messages.size()) {
        size_t i = next++;
        Result<std::string> mime = BuildMimeMessage(messages[i], from_, now);
        if (!mime.ok()) {
          results[i].outcome = SendOutcome::kPermanent;
          results[i].error = "message refused before sending: " + mime.status().message();
          continue;
        }
        slot.index = i;
        slot.payload = std::move(mime).value();
        slot.read_pos = 0;
        slot.message_id = MessageIdFor(messages[i].idempotency_key, settings_.from_address);
        slot.log.Clear();
        slot.errbuf[0] = '\0';
        slot.outbound.Clear();
        curl_slist_free_all(slot.rcpt);
        slot.rcpt = curl_slist_append(nullptr, messages[i].to.c_str());
        curl_easy_setopt(slot.easy, CURLOPT_MAIL_RCPT, slot.rcpt);
        curl_easy_setopt(slot.easy, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(slot.payload.size()));
        if (curl_multi_add_handle(multi_, slot.easy) != CURLM_OK) {
          results[i].outcome = SendOutcome::kTransient;
          results[i].error = "SMTP transfer failed: could not start the transfer";
          continue;
        }
        slot.added = true;
        ++running;
        return true;
      }
      return false;
    };

    for (Slot& slot : slots_) {
      if (!start_next(slot)) break;
    }
    while (running > 0) {
      int still = 0;
      CURLMcode mc = curl_multi_perform(multi_, &still);
      int queued = 0;
      while (CURLMsg* m = curl_multi_info_read(multi_, &queued)) {
        if (m->msg != CURLMSG_DONE) continue;
        Slot* slot = nullptr;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &slot);
        CURLcode rc = m->data.result;
        results[slot->index] = Classify(rc, slot->log, slot->errbuf, slot->message_id, slot->outbound);
        curl_multi_remove_handle(multi_, slot->easy);
        slot->added = false;
        --running;
        start_next(*slot);
      }
      if (mc != CURLM_OK) {
        FailRunning(results, std::string("SMTP transfer failed: ") + curl_multi_strerror(mc));
        running = 0;
        break;
      }
      if (running == 0) break;
      curl_multi_poll(multi_, nullptr, 0, 1000, nullptr);
    }
    return results;
  }

  Status Verify() override {
    ReplyLog log;
    char errbuf[CURL_ERROR_SIZE] = {0};
    net::CurlOutbound outbound;
    CURL* c = curl_easy_init();
    if (c == nullptr) return Status::Internal("smtp: curl_easy_init failed");
    SetCommonOptions(c, settings_, url_, &log, errbuf, outbound, outbound_);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "NOOP");
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    std::string where = "SMTP server " + settings_.host + ":" + std::to_string(settings_.port);
    std::string reply = log.last_error_code != 0
                            ? std::to_string(log.last_error_code) + (log.last_error.empty() ? "" : " " + log.last_error)
                            : std::string();
    if (rc == CURLE_OK && code < 400) return Status::Ok();
    if (std::optional<std::string> refused = outbound.Refusal()) {
      return Status::InvalidArgument("cannot reach " + where + ": " + *refused);
    }
    if (rc == CURLE_LOGIN_DENIED) {
      return Status::InvalidArgument(where + " refused the login for user '" + settings_.username +
                                     "': " + (reply.empty() ? CurlError(rc, errbuf) : reply));
    }
    if (rc == CURLE_USE_SSL_FAILED) {
      return Status::FailedPrecondition(
          where + " does not offer STARTTLS (set tls to \"implicit\" or \"none\"): " + CurlError(rc, errbuf));
    }
    if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE) {
      return Status::FailedPrecondition(where + ": TLS certificate not trusted: " + CurlError(rc, errbuf));
    }
    if (!reply.empty()) {
      return log.last_error_code >= 500 ? Status::InvalidArgument(where + " replied " + reply)
                                        : Status::Unavailable(where + " replied " + reply);
    }
    return Status::Unavailable("cannot reach " + where + ": " + CurlError(rc, errbuf));
  }

 private:
  struct Slot {
    CURL* easy = nullptr;
    bool added = false;
    size_t index = 0;
    std::string payload;
    size_t read_pos = 0;
    std::string message_id;
    curl_slist* rcpt = nullptr;
    ReplyLog log;
    char errbuf[CURL_ERROR_SIZE] = {0};
    net::CurlOutbound outbound;  // judges every address the handle connects to
  };

  static size_t OnRead(char* buffer, size_t size, size_t n, void* user) {
    auto* slot = static_cast<Slot*>(user);
    size_t len = std::min(size * n, slot->payload.size() - slot->read_pos);
    // NOLINTNEXTLINE(bugprone-not-null-terminated-result): octets, not a C string
    std::memcpy(buffer, slot->payload.data() + slot->read_pos, len);
    slot->read_pos += len;
    return len;
  }

  void FailRunning(std::vector<SendResult>& results, const std::string& error) {
    for (Slot& slot : slots_) {
      if (!slot.added) continue;
      curl_multi_remove_handle(multi_, slot.easy);
      slot.added = false;
      results[slot.index].outcome = SendOutcome::kTransient;
      results[slot.index].error = error;
    }
  }

  SmtpSettings settings_;
  Clock& clock_;
  const net::OutboundPolicy& outbound_;
  std::string url_;
  MailFrom from_;
  CURLM* multi_ = nullptr;
  std::vector<Slot> slots_;
};

}  // namespace

Result<SmtpSettings> ParseSmtpSettings(const json::object& settings, const json::object& credentials) {
  SmtpSettings s;
  bool has_port = false;
  bool has_host = false;
  bool has_from = false;
  for (const auto& [key, v] : settings) {
    std::string field = "settings." + std::string(key);
    if (key == "host") {
      OUTFLOW_ASSIGN_OR_RETURN(s.host, GetString(v, field));
      if (s.host.empty() || s.host.find_first_of(" \t/@?#") != std::string::npos) {
        return Bad(field, "must be a host name or an IP address");
      }
      has_host = true;
    } else if (key == "port") {
      OUTFLOW_ASSIGN_OR_RETURN(s.port, GetInt(v, field, 1, 65535));
      has_port = true;
    } else if (key == "tls") {
      OUTFLOW_ASSIGN_OR_RETURN(std::string tls, GetString(v, field));
      if (tls == "starttls") {
        s.tls = SmtpSettings::Tls::kStartTls;
      } else if (tls == "implicit") {
        s.tls = SmtpSettings::Tls::kImplicit;
      } else if (tls == "none") {
        s.tls = SmtpSettings::Tls::kNone;
      } else {
        return Bad(field, "must be one of starttls, implicit, none");
      }
    } else if (key == "from_address") {
      OUTFLOW_ASSIGN_OR_RETURN(s.from_address, GetString(v, field));
      OUTFLOW_RETURN_IF_ERROR(CheckMailAddress(field, s.from_address));
      has_from = true;
    } else if (key == "from_name") {
      OUTFLOW_ASSIGN_OR_RETURN(s.from_name, GetString(v, field));
    } else if (key == "reply_to") {
      OUTFLOW_ASSIGN_OR_RETURN(s.reply_to, GetString(v, field));
      if (!s.reply_to.empty()) OUTFLOW_RETURN_IF_ERROR(CheckMailAddress(field, s.reply_to));
    } else if (key == "connections") {
      OUTFLOW_ASSIGN_OR_RETURN(s.connections, GetInt(v, field, 1, kMaxConnections));
    } else if (key == "timeout_ms") {
      OUTFLOW_ASSIGN_OR_RETURN(s.timeout_ms, GetInt(v, field, 100, kMaxTimeoutMs));
    } else if (key == "verify_peer") {
      if (!v.is_bool()) return Bad(field, "must be true or false");
      s.verify_peer = v.as_bool();
    } else if (key == "helo_domain") {
      OUTFLOW_ASSIGN_OR_RETURN(s.helo_domain, GetString(v, field));
      if (s.helo_domain.find_first_of(" \t/@?#:") != std::string::npos) return Bad(field, "must be a domain name");
    } else {
      return Bad(field,
                 "unknown field (known: host, port, tls, from_address, from_name, reply_to, connections, "
                 "timeout_ms, verify_peer, helo_domain)");
    }
  }
  if (!has_host) return Bad("settings.host", "is required");
  if (!has_from) return Bad("settings.from_address", "is required");
  if (!has_port) s.port = s.tls == SmtpSettings::Tls::kImplicit ? 465 : s.tls == SmtpSettings::Tls::kNone ? 25 : 587;

  for (const auto& [key, v] : credentials) {
    std::string field = "credentials." + std::string(key);
    if (key == "username") {
      OUTFLOW_ASSIGN_OR_RETURN(s.username, GetString(v, field));
    } else if (key == "password") {
      OUTFLOW_ASSIGN_OR_RETURN(s.password, GetString(v, field));
    } else {
      return Bad(field, "unknown field (known: username, password)");
    }
  }
  if (s.username.empty() != s.password.empty()) {
    return Bad(s.username.empty() ? "credentials.username" : "credentials.password",
               "is required when the other credential is set");
  }
  return s;
}

std::unique_ptr<ChannelSender> MakeSmtpSender(SmtpSettings s, Clock& clock, const net::OutboundPolicy& outbound) {
  return std::make_unique<SmtpSender>(std::move(s), clock, outbound);
}

}  // namespace outflow::channels
