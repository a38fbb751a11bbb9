// Open and click tracking for email (docs/sending.md "Tracking").
//
// At render, each http(s) link of an <a href> in a message's html part becomes a
// click link, and an open pixel is added before </body> (or at the end):
//
//   open:   <public_url>/t/o/<message id>/<tag>.gif
//   click:  <public_url>/t/c/<message id>/<tag>?u=<the URL, percent-encoded>
//
// The tag is a keyed BLAKE2b tag (SecretBox::Tag, context "tracking") over the
// message id and, for a click, the URL: no one without the daemon's key can make a
// link for another message or another URL, so a click link redirects only to the
// URL the message held, and ids cannot be enumerated. Links with the attribute
// data-outflow-notrack, mailto:, tel: and #anchors are left as written.
//
// Pure apart from the key; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "crypto/secret_box.h"
#include "domain/message.h"

namespace outflow {

class LinkTracker {
 public:
  // REQUIRES: `key` outlives the tracker; `public_url` is an absolute http(s) URL
  // (a trailing slash is dropped).
  LinkTracker(const SecretBox& key, std::string public_url);

  // Where recipients reach the daemon. REQUIRES: set before serving or sending
  // (the daemon learns its port only once it listens); read-only afterwards.
  void SetPublicUrl(std::string url);
  const std::string& public_url() const { return public_url_; }

  // `html` with its links rewritten and the open pixel added.
  std::string Instrument(MessageId id, std::string_view html) const;

  std::string OpenUrl(MessageId id) const;
  std::string ClickUrl(MessageId id, std::string_view url) const;

  // The message of an open link's "<id>" and "<tag>" (".gif" removed), or of a
  // click link's id, tag and decoded URL; none when the tag does not match.
  std::optional<MessageId> VerifyOpen(std::string_view id, std::string_view tag) const;
  std::optional<MessageId> VerifyClick(std::string_view id, std::string_view tag, std::string_view url) const;

 private:
  const SecretBox& key_;
  std::string public_url_;
};

}  // namespace outflow
