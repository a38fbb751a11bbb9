#include "channels/log/log_sender.h"

#include "base/log.h"

namespace outflow::channels {

namespace {

class LogSender final : public ChannelSender {
 public:
  explicit LogSender(std::string account) : account_(std::move(account)) {}

  std::vector<SendResult> SendBatch(std::span<const OutboundMessage> messages) override {
    std::vector<SendResult> out(messages.size());
    for (size_t i = 0; i < messages.size(); ++i) {
      const OutboundMessage& m = messages[i];
      log::Info("log channel message", {{"account", account_},
                                        {"to", m.to},
                                        {"subject", m.subject},
                                        {"key", m.idempotency_key},
                                        {"text_bytes", static_cast<int64_t>(m.text.size())},
                                        {"html_bytes", static_cast<int64_t>(m.html.size())}});
      out[i].outcome = SendOutcome::kSent;
      out[i].provider_id = "log:" + m.idempotency_key;
    }
    return out;
  }

  Status Verify() override { return Status::Ok(); }

 private:
  std::string account_;
};

}  // namespace

std::unique_ptr<ChannelSender> MakeLogSender(std::string account_name) {
  return std::make_unique<LogSender>(std::move(account_name));
}

}  // namespace outflow::channels
