#include "domain/message.h"

#include <array>

namespace outflow {

std::string_view MessageStateName(MessageState s) {
  switch (s) {
    case MessageState::kQueued: return "queued";
    case MessageState::kDeferred: return "deferred";
    case MessageState::kSending: return "sending";
    case MessageState::kSent: return "sent";
    case MessageState::kFailed: return "failed";
    case MessageState::kSkipped: return "skipped";
    case MessageState::kCancelled: return "cancelled";
  }
  return "queued";
}

std::optional<MessageState> ParseMessageState(std::string_view s) {
  static constexpr std::array kAll{MessageState::kQueued,   MessageState::kDeferred, MessageState::kSending,
                                   MessageState::kSent,     MessageState::kFailed,   MessageState::kSkipped,
                                   MessageState::kCancelled};
  for (MessageState m : kAll) {
    if (MessageStateName(m) == s) return m;
  }
  return std::nullopt;
}

std::string_view MessageEventName(MessageEventKind k) {
  switch (k) {
    case MessageEventKind::kQueued: return "queued";
    case MessageEventKind::kSent: return "sent";
    case MessageEventKind::kFailed: return "failed";
    case MessageEventKind::kSkipped: return "skipped";
    case MessageEventKind::kCancelled: return "cancelled";
    case MessageEventKind::kDelivered: return "delivered";
    case MessageEventKind::kOpened: return "opened";
    case MessageEventKind::kClicked: return "clicked";
    case MessageEventKind::kBounced: return "bounced";
    case MessageEventKind::kComplained: return "complained";
    case MessageEventKind::kUnsubscribed: return "unsubscribed";
  }
  return "delivered";
}

std::optional<MessageEventKind> ParseMessageEventKind(std::string_view s) {
  for (int i = 0; i <= static_cast<int>(MessageEventKind::kUnsubscribed); ++i) {
    const auto k = static_cast<MessageEventKind>(i);
    if (MessageEventName(k) == s) return k;
  }
  return std::nullopt;
}

bool IsRecordedEvent(MessageEventKind k) {
  return k >= MessageEventKind::kDelivered;
}

std::vector<MessageEvent> Timeline(const Message& m, const std::vector<MessageEvent>& recorded) {
  std::vector<MessageEvent> out;
  out.push_back({MessageEventKind::kQueued, m.created_at, {}});
  if (m.sent_at) out.push_back({MessageEventKind::kSent, *m.sent_at, m.provider_id});
  // In the order they arrived: providers stamp whole seconds, so their times can
  // sort before the send they report on.
  out.insert(out.end(), recorded.begin(), recorded.end());
  switch (m.state) {
    case MessageState::kFailed: out.push_back({MessageEventKind::kFailed, m.updated_at, m.reason}); break;
    case MessageState::kSkipped: out.push_back({MessageEventKind::kSkipped, m.updated_at, m.reason}); break;
    case MessageState::kCancelled: out.push_back({MessageEventKind::kCancelled, m.updated_at, m.reason}); break;
    default: break;
  }
  return out;
}

RecipientState RecipientStateOf(MessageState s) {
  switch (s) {
    case MessageState::kQueued:
    case MessageState::kDeferred: return RecipientState::kPending;
    case MessageState::kSending: return RecipientState::kSending;
    case MessageState::kSent: return RecipientState::kSent;
    case MessageState::kFailed: return RecipientState::kFailed;
    case MessageState::kSkipped: return RecipientState::kSkipped;
    case MessageState::kCancelled: return RecipientState::kCancelled;
  }
  return RecipientState::kPending;
}

std::string_view SourceKindName(SourceKind k) {
  switch (k) {
    case SourceKind::kTransactional: return "transactional";
    case SourceKind::kJourney: return "journey";
    case SourceKind::kRule: return "rule";
    case SourceKind::kSchedule: return "schedule";
    case SourceKind::kCampaign: return "campaign";
  }
  return "transactional";
}

std::optional<SourceKind> ParseSourceKind(std::string_view s) {
  static constexpr std::array kAll{SourceKind::kTransactional, SourceKind::kJourney, SourceKind::kRule,
                                   SourceKind::kSchedule, SourceKind::kCampaign};
  for (SourceKind k : kAll) {
    if (SourceKindName(k) == s) return k;
  }
  return std::nullopt;
}

int DefaultPriority(SourceKind k) {
  switch (k) {
    case SourceKind::kTransactional: return 0;
    case SourceKind::kJourney: return 10;
    case SourceKind::kRule: return 10;
    case SourceKind::kSchedule: return 20;
    case SourceKind::kCampaign: return 30;
  }
  return 30;
}

std::string_view SourceStateName(SourceState s) {
  switch (s) {
    case SourceState::kActive: return "active";
    case SourceState::kPaused: return "paused";
    case SourceState::kCancelled: return "cancelled";
  }
  return "active";
}

std::string MessageKey(const Message& m) {
  const std::string contact = std::to_string(m.contact.value());
  switch (m.source.kind) {
    case SourceKind::kCampaign: return "outflow-c" + std::to_string(m.source.id) + "-r" + contact;
    case SourceKind::kTransactional: return "outflow-m" + std::to_string(m.id.value());
    default:
      return "outflow-" + std::string(SourceKindName(m.source.kind)) + std::to_string(m.source.id) + "-r" + contact +
             "-s" + std::to_string(m.step);
  }
}

ChannelAddress AddressFor(Channel channel, const Contact& c) {
  auto pick = [](const std::optional<std::string>& v) { return v && !v->empty() ? *v : std::string(); };
  switch (channel) {
    case Channel::kEmail: {
      std::string a = pick(c.email);
      return {a, a.empty() ? "no email address" : ""};
    }
    case Channel::kSms:
    case Channel::kWhatsapp: {
      std::string a = pick(c.phone);
      return {a, a.empty() ? "no phone number" : ""};
    }
    case Channel::kWebhook:
    case Channel::kLog: {
      std::string a = pick(c.email);
      if (a.empty()) a = pick(c.phone);
      if (a.empty()) a = pick(c.external_id);
      return {a, a.empty() ? "no address" : ""};
    }
  }
  return {"", "no address"};
}

}  // namespace outflow
