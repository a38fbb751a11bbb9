// The sender for a sending account: picks the channel implementation by the
// account's provider and builds it from the account's settings and decrypted
// credentials.
//
//   provider        channels                    implementation
//   smtp            email                       smtp/smtp_sender.h
//   whatsapp_cloud  whatsapp                    http_provider (preset whatsapp_cloud)
//   twilio_sms      sms                         http_provider (preset twilio_sms)
//   http            sms, whatsapp, webhook      http_provider (preset http)
//   webhook         webhook, sms, whatsapp      http_provider (preset http) with a JSON
//                                               body of the whole message when none is given
//   log             any                         log/log_sender.h (dry runs)
//
// Errors are InvalidArgument naming the field ("settings.host: is required",
// "provider: 'smtp' does not send sms").
#pragma once

#include <memory>
#include <string_view>

#include "base/clock.h"
#include "channels/channel.h"
#include "domain/campaign.h"
#include "net/outbound_policy.h"

namespace outflow::channels {

// Checks the provider against the channel and parses the settings and credentials
// (both JSON objects; `credentials_json` empty: none) without any network traffic.
Status CheckSenderSettings(const SendingAccount& account, std::string_view credentials_json);

// REQUIRES: `clock` and `outbound` (which addresses the sender may connect to)
// outlive the sender.
Result<std::unique_ptr<ChannelSender>> MakeSender(const SendingAccount& account, std::string_view credentials_json,
                                                  Clock& clock, const net::OutboundPolicy& outbound);

}  // namespace outflow::channels
