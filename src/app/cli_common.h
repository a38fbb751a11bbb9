// Helpers shared by the files of the `outflow` command line (cli.cc and the verb
// files beside it): calling the REST API, printing its reply, and the exit code
// for an error (cli.h).
#pragma once

#include <chrono>
#include <optional>

#include <boost/json.hpp>

#include <functional>
#include <string>

#include "api/api_client.h"
#include "base/status.h"
#include "base/time.h"
#include "domain/audit_entry.h"

namespace outflow::cli {

// The API key for a command: `given` (--api-key or OUTFLOW_API_KEY) when set, else
// the key in `key_file` (default <data-dir>/cli.key, written by `serve`), else
// none. A key file that exists but cannot be read (another user's) is said on
// stderr; the call then goes without a key and the daemon answers 401.
std::string ResolveApiKey(const std::string& given, const std::string& key_file);

// Writes the audit entry of a change a command made on the data directory's
// database at `db_path` (audit/audit_log.h CliAuditEntry). The change has
// committed: a failure is said on stderr, and the command still succeeds.
void RecordCliChange(const std::string& db_path, const AuditEntry& entry);

// Prints "outflow: <message>" to stderr; the exit code for the status.
int Fail(const Status& st);
// Prints an API error reply's message to stderr; the exit code for its HTTP status.
int FailReply(const api::ApiReply& r);

// Calls the API and prints the reply: the JSON with `json_out`, else `human(reply)`
// (a null value for an empty body). The exit code.
int CallAndPrint(api::ApiClient& c, const std::string& method, const std::string& target, const std::string& body,
                 bool json_out, const std::function<void(const boost::json::value&)>& human);

// Polls GET /v1/imports/{id} every 200 ms until the import `im` (the API's JSON,
// updated in place) is completed, failed or cancelled, calling `on_progress` with
// each state seen before that. An unfinished import at `deadline` ends the wait
// with Unavailable. The exit code of a failed call, else kExitOk; the caller judges
// the final state.
int AwaitImport(api::ApiClient& c, boost::json::value& im,
                const std::function<void(const boost::json::value&)>& on_progress,
                std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt);
// The whole file at `path` ("-": stdin); `ok` false when it cannot be opened.
std::string ReadAll(const std::string& path, bool& ok);
// Percent-encodes a query parameter value.
std::string UrlEncode(const std::string& s);
// An optional time for a table cell: RFC 3339, or "-" when absent.
std::string TimeOrDash(const std::optional<Timestamp>& t);
// A JSON value for a table cell: strings bare, null as "-", the rest as JSON.
std::string Str(const boost::json::value& v);

}  // namespace outflow::cli
