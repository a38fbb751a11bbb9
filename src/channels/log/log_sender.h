// LogSender: the `log` channel, for dry runs. It sends nothing: each message is
// written to the daemon's log (recipient, subject, idempotency key, body sizes;
// never the body) and reported sent, with provider_id "log:<idempotency_key>".
// Verify always succeeds. Thread-safety: as ChannelSender.
#pragma once

#include <memory>

#include "channels/channel.h"

namespace outflow::channels {

std::unique_ptr<ChannelSender> MakeLogSender(std::string account_name);

}  // namespace outflow::channels
