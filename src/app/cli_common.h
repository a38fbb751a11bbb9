// Helpers shared by the files of the `outflow` command line (cli.cc and the verb
// files beside it): calling the REST API, printing its reply, and the exit code
// for an error (cli.h).
#pragma once

#include <boost/json.hpp>

#include <functional>
#include <string>

#include "api/api_client.h"
#include "base/status.h"

namespace outflow::cli {

// Prints "outflow: <message>" to stderr; the exit code for the status.
int Fail(const Status& st);
// Prints an API error reply's message to stderr; the exit code for its HTTP status.
int FailReply(const api::ApiReply& r);

// Calls the API and prints the reply: the JSON with `json_out`, else `human(reply)`
// (a null value for an empty body). The exit code.
int CallAndPrint(api::ApiClient& c, const std::string& method, const std::string& target, const std::string& body,
                 bool json_out, const std::function<void(const boost::json::value&)>& human);

// The whole file at `path` ("-": stdin); `ok` false when it cannot be opened.
std::string ReadAll(const std::string& path, bool& ok);
// Percent-encodes a query parameter value.
std::string UrlEncode(const std::string& s);
// A JSON value for a table cell: strings bare, null as "-", the rest as JSON.
std::string Str(const boost::json::value& v);

}  // namespace outflow::cli
