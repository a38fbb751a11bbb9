#include "api/imports_api.h"

#include <boost/json.hpp>
#include <boost/url/params_view.hpp>

#include "api/http_util.h"
#include "domain/segment.h"

namespace outflow::api {

namespace json = boost::json;

namespace {

json::value ImportToJson(const Import& im) {
  json::object o;
  o["id"] = im.id.value();
  o["file_name"] = im.file_name;
  o["state"] = ImportStateName(im.state);
  o["bytes_total"] = im.bytes_total;
  o["bytes_done"] = im.progress.bytes_done;
  o["rows_total"] = im.rows_total;
  o["rows_read"] = im.progress.rows_read;
  o["created"] = im.progress.created;
  o["updated"] = im.progress.updated;
  o["skipped"] = im.progress.skipped;
  o["failed"] = im.progress.failed;
  json::array header;
  json::object mapping;
  for (size_t i = 0; i < im.header.size(); ++i) {
    header.push_back(json::value(im.header[i]));
    mapping[im.header[i]] = i < im.columns.size() && !im.columns[i].empty() ? json::value(im.columns[i]) : json::value(nullptr);
  }
  o["header"] = std::move(header);
  o["mapping"] = std::move(mapping);
  json::object opts;
  opts["on_existing"] = OnExistingName(im.options.on_existing);
  opts["owner"] = im.options.owner ? json::value(*im.options.owner) : json::value(nullptr);
  opts["staging"] = im.options.staging;
  opts["create_fields"] = im.options.create_fields;
  opts["segment"] = im.options.segment ? json::value(*im.options.segment) : json::value(nullptr);
  o["options"] = std::move(opts);
  o["error"] = im.error ? json::value(*im.error) : json::value(nullptr);
  o["created_at"] = FormatRfc3339(im.created_at);
  o["updated_at"] = FormatRfc3339(im.updated_at);
  o["finished_at"] = im.finished_at ? json::value(FormatRfc3339(*im.finished_at)) : json::value(nullptr);
  return o;
}

Result<bool> ParseBool(const std::string& key, const std::string& v) {
  if (v == "true" || v == "1" || v == "yes") return true;
  if (v == "false" || v == "0" || v == "no") return false;
  return Status::InvalidArgument(key + ": must be true or false");
}

}  // namespace

std::optional<HttpResponse> ImportsApi::Route(const HttpRequest& req, std::string_view path, std::string_view query) {
  const bool get = req.method == "GET" || req.method == "HEAD";
  const bool post = req.method == "POST";
  if (path == "/v1/imports") {
    if (post) return Create(req, query);
    if (!get) return MethodNotAllowed("GET, POST");
    Result<std::vector<Import>> all = imports_.List(100);
    if (!all.ok()) return ErrorResponse(all.status());
    json::array arr;
    for (const Import& im : *all) arr.push_back(ImportToJson(im));
    return JsonResponse(200, json::object{{"imports", std::move(arr)}});
  }
  constexpr std::string_view kPrefix = "/v1/imports/";
  if (!path.starts_with(kPrefix)) return std::nullopt;
  std::string_view rest = path.substr(kPrefix.size());
  auto slash = rest.find('/');
  Result<int64_t> id = ParsePositiveId(rest.substr(0, slash), "import id");
  if (!id.ok()) return ErrorResponse(id.status());
  std::string_view action = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  if (action.empty()) {
    if (!get) return MethodNotAllowed("GET");
    Result<Import> im = imports_.Get(ImportId(*id));
    return im.ok() ? JsonResponse(200, ImportToJson(*im)) : ErrorResponse(im.status());
  }
  if (action == "errors") {
    if (!get) return MethodNotAllowed("GET");
    Result<std::string> csv = imports_.ErrorReportCsv(ImportId(*id));
    if (!csv.ok()) return ErrorResponse(csv.status());
    HttpResponse r{200, "text/csv; charset=utf-8", std::move(csv).value(), {}};
    r.headers.emplace_back("Content-Disposition", "attachment; filename=\"import-" + std::to_string(*id) + "-errors.csv\"");
    return r;
  }
  if (action == "cancel") {
    if (!post) return MethodNotAllowed("POST");
    Result<Import> im = imports_.Cancel(ImportId(*id));
    return im.ok() ? JsonResponse(200, ImportToJson(*im)) : ErrorResponse(im.status());
  }
  return std::nullopt;
}

HttpResponse ImportsApi::Create(const HttpRequest& req, std::string_view query) {
  if (req.upload_file.empty()) {
    return ErrorResponse(Status::InvalidArgument("body: send the CSV file as the request body"));
  }
  ImportOptions opt;
  std::string name;
  for (const boost::urls::param& p : boost::urls::params_view(query)) {
    const std::string& k = p.key;
    const std::string& v = p.value;
    if (k == "name") {
      name = v;
    } else if (k == "delimiter") {
      if (v == "comma" || v == ",") opt.delimiter = ',';
      else if (v == "semicolon" || v == ";") opt.delimiter = ';';
      else if (v == "tab" || v == "\t") opt.delimiter = '\t';
      else if (v != "detect") return ErrorResponse(Status::InvalidArgument("delimiter: must be comma, semicolon, tab or detect"));
    } else if (k == "on_existing") {
      auto o = ParseOnExisting(v);
      if (!o) return ErrorResponse(Status::InvalidArgument("on_existing: must be update, skip or fail"));
      opt.on_existing = *o;
    } else if (k == "owner") {
      if (!v.empty()) opt.owner = v;
    } else if (k == "segment") {
      if (Status st = ValidateSegmentName(v); !st.ok()) return ErrorResponse(st.WithContext("segment"));
      opt.segment = v;
    } else if (k == "staging" || k == "create_fields") {
      Result<bool> b = ParseBool(k, v);
      if (!b.ok()) return ErrorResponse(b.status());
      (k == "staging" ? opt.staging : opt.create_fields) = *b;
    } else if (k == "map") {
      auto colon = v.rfind(':');
      if (colon == std::string::npos || colon == 0) {
        return ErrorResponse(Status::InvalidArgument("map: '" + v + "' must be Column:field (or Column: to ignore it)"));
      }
      opt.mapping[v.substr(0, colon)] = v.substr(colon + 1);
    } else {
      return ErrorResponse(Status::InvalidArgument(
          k + ": unknown query parameter (known: name, delimiter, on_existing, owner, segment, staging, create_fields, "
              "map)"));
    }
  }
  Result<Import> im = imports_.Create(req.upload_file, name, std::move(opt));
  return im.ok() ? JsonResponse(202, ImportToJson(*im)) : ErrorResponse(im.status());
}

}  // namespace outflow::api
