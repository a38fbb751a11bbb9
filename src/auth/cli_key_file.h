// The local CLI's key file, <data-dir>/cli.key: an admin key that `serve` keeps
// there, mode 0600, so that the Unix user who owns the data directory can run the
// `outflow` CLI against the daemon without handling a key, and no other user can
// (the file's mode is the whole protection; docs/security.md).
//
// Thread-safe (no shared state).
#pragma once

#include <string>

#include "base/status.h"
#include "store/key_store.h"

namespace outflow::auth {

inline constexpr std::string_view kCliKeyFileName = "cli.key";

// Keeps a working admin key at `path`: when the file is missing, unreadable or
// holds a key that is unknown, revoked or expired, creates a new admin key named
// "local cli" and writes it there (mode 0600, atomically: a temporary file in the
// same directory, fsynced, renamed over). A key file that works is kept as it is.
Status EnsureCliKey(KeyStore& keys, const std::string& path, Timestamp now);

// The key in the file at `path` (surrounding whitespace removed). NotFound when it
// does not exist; FailedPrecondition (naming the path and the reason) when it
// cannot be read, e.g. another user's file.
Result<std::string> ReadKeyFile(const std::string& path);

}  // namespace outflow::auth
