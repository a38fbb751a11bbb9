// SMTP email sender: a ChannelSender that submits each message to one SMTP server
// (an ESP's relay or the organisation's own MTA) with libcurl.
//
// Each message is built by BuildMimeMessage (mime.h): its Message-ID is
// <idempotency_key@from-domain>, stable per ledger entry, and is the SendResult's
// provider_id, so that a repeated send is recognisable downstream.
//
// Transport: smtp:// with STARTTLS required (Tls::kStartTls, CURLUSESSL_ALL),
// smtps:// (Tls::kImplicit, usually port 465) or plain smtp:// (Tls::kNone, for a
// local relay). AUTH (PLAIN/LOGIN/...) when a username is set. EHLO announces
// helo_domain (default: the from address's domain).
//
// Connection reuse: the sender owns `connections` curl easy handles in one multi
// handle. A batch is sent concurrently over them; a handle's SMTP session stays
// open between messages and between batches (the next message is a new MAIL FROM
// on the same session), so N messages cost at most `connections` sessions while
// the server keeps them open. Sessions are closed with QUIT when the sender is
// destroyed.
//
// Classification (see docs/channels.md): an SMTP 4xx reply, a timeout or a
// connection/TLS error is kTransient; a 5xx reply is kPermanent. `error` carries
// the server's last reply ("SMTP 550: 5.1.1 <x@y>: Recipient address rejected");
// a message that cannot be built (a line break in a header, a bad address) is
// kPermanent without any network traffic. A server address the outbound policy
// refuses (net/outbound_policy.h) is kPermanent with the policy's reason.
//
// Verify(): connects, EHLO, STARTTLS, AUTH and NOOP, sending no mail. A rejected
// login gives InvalidArgument with the server's reply, so does a refused address;
// an unreachable server gives Unavailable.
//
// Thread-safety: a sender is used by one thread at a time (ChannelSender).
#pragma once

#include <memory>
#include <string>

#include <boost/json/object.hpp>

#include "base/clock.h"
#include "base/status.h"
#include "channels/channel.h"
#include "net/outbound_policy.h"

namespace outflow::channels {

struct SmtpSettings {
  std::string host;
  int port = 587;
  enum class Tls { kNone, kStartTls, kImplicit } tls = Tls::kStartTls;
  std::string username;  // empty: no AUTH
  std::string password;
  std::string from_address;  // also the envelope sender (MAIL FROM)
  std::string from_name;
  std::string reply_to;
  int connections = 4;      // 1..64 concurrent SMTP sessions
  int timeout_ms = 30000;   // per message, connect included
  bool verify_peer = true;  // verify the server's TLS certificate and host name
  std::string helo_domain;  // empty: the from address's domain
};

// Reads an account's settings and decrypted credentials:
//   settings:    {"host": "smtp.example.com", "port"?: 587, "tls"?: "starttls" | "implicit" | "none",
//                 "from_address": "news@example.com", "from_name"?: "", "reply_to"?: "",
//                 "connections"?: 4, "timeout_ms"?: 30000, "verify_peer"?: true, "helo_domain"?: ""}
//   credentials: {"username"?: "...", "password"?: "..."}  (both or neither)
// The default port follows tls: 587 for starttls, 465 for implicit, 25 for none.
// Errors are InvalidArgument naming the field ("settings.port: must be 1..65535").
Result<SmtpSettings> ParseSmtpSettings(const boost::json::object& settings, const boost::json::object& credentials);

// REQUIRES: `s` came from ParseSmtpSettings (or is equally valid); `clock`
// outlives the sender (it dates each message).
// REQUIRES: `clock` and `outbound` (every connection is checked against it) outlive the sender.
std::unique_ptr<ChannelSender> MakeSmtpSender(SmtpSettings s, Clock& clock, const net::OutboundPolicy& outbound);

}  // namespace outflow::channels
