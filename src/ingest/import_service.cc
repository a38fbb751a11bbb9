#include "ingest/import_service.h"

#include <boost/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>

#include "base/log.h"
#include "ingest/column_mapping.h"
#include "ingest/csv_reader.h"

namespace outflow {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr size_t kChunkBytes = 1 << 20;

// Feeds the file at `path` from `offset` to `reader` in chunks; stops early when
// `stop` becomes true (the callback cannot stop the reader itself).
Status FeedFile(const std::string& path, uint64_t offset, CsvReader& reader, const CsvRecordCallback& cb,
                const bool& stop) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::Unavailable("cannot open the import file " + path);
  f.seekg(static_cast<std::streamoff>(offset));
  std::string buf(kChunkBytes, '\0');
  while (!stop && f) {
    f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    std::streamsize n = f.gcount();
    if (n <= 0) break;
    OUTFLOW_RETURN_IF_ERROR(reader.Feed(std::string_view(buf.data(), static_cast<size_t>(n)), cb));
  }
  if (f.bad()) return Status::Unavailable("error reading the import file " + path);
  if (stop) return Status::Ok();
  return reader.Finish(cb);
}

void AppendCsvField(std::string& out, std::string_view v) {
  bool quote = v.find_first_of(",\"\r\n") != std::string_view::npos;
  if (!quote) {
    out += v;
    return;
  }
  out += '"';
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

// The column a validation message is about: "email: ..." -> the header of the
// column that fills email.
std::string ColumnOf(const std::string& message, const Import& im) {
  auto colon = message.find(": ");
  if (colon == std::string::npos) return "";
  std::string field = message.substr(0, colon);
  if (field.rfind("custom.", 0) == 0) field = field.substr(7);
  for (size_t i = 0; i < im.columns.size() && i < im.header.size(); ++i) {
    if (im.columns[i] == field) return im.header[i];
  }
  return "";
}

JobSpec ImportJobSpec(ImportId id, Timestamp now) {
  JobSpec spec;
  spec.kind = std::string(kImportJobKind);
  spec.due_at = now;
  spec.max_attempts = 20;
  spec.idempotency_key = "import-" + std::to_string(id.value());
  spec.payload = json::serialize(json::object{{"import_id", id.value()}});
  return spec;
}

}  // namespace

ImportService::ImportService(ImportStore& store, ContactService& contacts, JobService& jobs, Clock& clock,
                             std::string imports_dir)
    : store_(store), contacts_(contacts), jobs_(jobs), clock_(clock), imports_dir_(std::move(imports_dir)) {}

Result<Import> ImportService::Create(const std::string& upload_path, std::string file_name, ImportOptions options) {
  std::error_code ec;
  uint64_t size = fs::file_size(upload_path, ec);
  if (ec) return Status::Internal("uploaded file is missing: " + ec.message());
  if (size == 0) return Status::InvalidArgument("file: the file is empty");
  fs::create_directories(imports_dir_, ec);
  Import im;
  im.file_name = file_name.empty() ? "upload.csv" : std::move(file_name);
  im.bytes_total = size;
  im.options = std::move(options);
  // Name the kept file after a unique upload name first; the id is known only after the insert.
  std::string kept = (fs::path(imports_dir_) / fs::path(upload_path).stem()).string() + ".csv";
  fs::rename(upload_path, kept, ec);
  if (ec) return Status::Unavailable("cannot keep the uploaded file in " + imports_dir_ + ": " + ec.message());
  im.file_path = kept;
  // The import and its job in one transaction: no crash leaves one without the other.
  std::optional<JobSpec> job;
  auto make_job = [&](const Import& created) -> Result<JobSpec> {
    JobSpec spec = ImportJobSpec(created.id, clock_.Now());
    OUTFLOW_RETURN_IF_ERROR(jobs_.Validate(spec, "import job"));
    job = spec;
    return spec;
  };
  Result<Import> created = store_.Create(im, make_job, clock_.Now());
  if (!created.ok()) {
    fs::remove(kept, ec);
    return created.status();
  }
  jobs_.Stored(std::span(&*job, 1));
  return created;
}

Result<std::string> ImportService::ErrorReportCsv(ImportId id) {
  OUTFLOW_RETURN_IF_ERROR(store_.Get(id).status());
  std::string out = "row,column,value,reason\n";
  int64_t after = 0;
  while (true) {
    OUTFLOW_ASSIGN_OR_RETURN(auto page, store_.Errors(id, after, 10'000));
    for (const ImportRowError& e : page) {
      out += std::to_string(e.row);
      out += ',';
      AppendCsvField(out, e.column);
      out += ',';
      AppendCsvField(out, e.value);
      out += ',';
      AppendCsvField(out, e.reason);
      out += '\n';
      after = e.row;
    }
    if (page.size() < 10'000) break;
  }
  return out;
}

std::string ImportRunner::Description() const {
  return "runs a CSV import: validates the file, then upserts its rows in batches (payload: {\"import_id\": N})";
}

Status ImportRunner::ValidatePayload(std::string_view payload_json, std::string_view field) const {
  boost::system::error_code ec;
  json::value v = json::parse(payload_json, ec);
  if (ec || !v.is_object() || !v.as_object().contains("import_id") || !v.at("import_id").is_int64()) {
    return Status::InvalidArgument(std::string(field) + ": must be {\"import_id\": N}");
  }
  return Status::Ok();
}

Status ImportRunner::Validate(Import& im) {
  CsvReaderOptions ro;
  ro.delimiter = im.options.delimiter;
  CsvReader reader(ro);
  std::optional<CsvHeader> header;
  Status header_error;
  int64_t rows = 0;
  bool stop = false;
  Status st = FeedFile(
      im.file_path, 0, reader,
      [&](const CsvRecord& r) {
        if (r.index == 0) {
          Result<CsvHeader> h = ParseHeader(r);
          if (!h.ok()) {
            header_error = h.status();
            stop = true;
          } else {
            header = std::move(h).value();
          }
          return;
        }
        ++rows;
      },
      stop);
  if (!header_error.ok()) return header_error;
  OUTFLOW_RETURN_IF_ERROR(st);
  if (!header) return Status::InvalidArgument("the file has no header");
  if (rows == 0) return Status::InvalidArgument("the file has only a header, no rows");
  im.header.clear();
  for (const CsvColumn& c : header->columns) im.header.push_back(c.name);
  OUTFLOW_ASSIGN_OR_RETURN(auto defs, contacts_.Definitions());
  OUTFLOW_ASSIGN_OR_RETURN(ColumnMapping mapping, BuildColumnMapping(im.header, im.options, defs));
  for (const FieldDefinition& f : mapping.to_create) OUTFLOW_RETURN_IF_ERROR(contacts_.DefineField(f).status());
  im.columns = mapping.fields;
  im.rows_total = rows;
  im.delimiter = reader.delimiter();
  return Status::Ok();
}

Status ImportRunner::Apply(const Import& im) {
  OUTFLOW_ASSIGN_OR_RETURN(auto defs, contacts_.Definitions());
  ColumnMapping mapping;
  mapping.fields = im.columns;
  const ExistingPolicy policy = im.options.on_existing == OnExisting::kUpdate ? ExistingPolicy::kUpdate
                                : im.options.on_existing == OnExisting::kSkip ? ExistingPolicy::kSkip
                                                                              : ExistingPolicy::kFail;
  CsvReaderOptions ro;
  ro.delimiter = im.delimiter;
  const bool resume = im.progress.bytes_done > 0;
  if (resume) {
    ro.start_offset = im.progress.bytes_done;
    ro.start_line = im.progress.next_line;
    ro.start_index = im.progress.next_index;
  }
  CsvReader reader(ro);
  ImportProgress committed = im.progress;  // where the last batch committed by this run ended
  CsvHeader header;                        // for CheckFieldCount
  for (const std::string& h : im.header) header.columns.push_back({h, h, NormaliseHeaderKey(h)});
  ImportBatch batch;
  Status failure;
  bool stop = false;
  // Batches are committed on a second thread while this one prepares the next:
  // at most one commit is in flight, and commits stay in file order, so the
  // resume point only moves forward.
  std::future<Status> in_flight;
  AdaptiveBatch sizer = ImportBatchSizer();
  std::chrono::steady_clock::duration took{};  // the last commit's, set before in_flight is ready
  auto wait_commit = [&] {
    if (!in_flight.valid()) return;
    Status st = in_flight.get();
    sizer.Observe(took);
    if (!st.ok() && failure.ok()) {
      failure = st;
      stop = true;
    }
  };
  auto commit = [&]() {
    wait_commit();
    if (stop) return;
    batch.start_offset = committed.bytes_done;
    committed.bytes_done = batch.bytes_done;
    committed.next_line = batch.next_line;
    committed.next_index = batch.next_index;
    in_flight = std::async(std::launch::async, [this, &im, &took, policy, b = std::move(batch)]() {
      const auto t0 = std::chrono::steady_clock::now();
      Status st = store_.CommitBatch(im.id, b, policy, clock_.Now()).status();
      took = std::chrono::steady_clock::now() - t0;
      return st;
    });
    batch = ImportBatch();
    if (stop_requested_.load()) stop = true;  // the daemon is stopping: resume at the next start
  };
  bool reader_done = false;
  Status st = FeedFile(
      im.file_path, im.progress.bytes_done, reader,
      [&](const CsvRecord& r) {
        if (stop || r.index == 0) return;  // the header was read by validation
        batch.rows_read++;
        batch.bytes_done = r.end_offset;
        batch.next_line = r.end_line;
        batch.next_index = r.index + 1;
        auto row_error = [&](std::string column, std::string value, std::string reason) {
          batch.errors.push_back({r.line, std::move(column), std::move(value), std::move(reason)});
        };
        if (r.error) {
          row_error("", "", r.error->message);
        } else if (Status fc = CheckFieldCount(r, header); !fc.ok()) {
          row_error("", "", fc.message());
        } else {
          ImportRowError e;
          Result<Contact> c = RowToContact(r.fields, im.header, mapping, im.options, defs, e);
          Status v = c.ok() ? ContactService::ValidateWith(*c, defs, "") : c.status();
          if (!v.ok()) {
            std::string column = e.column.empty() ? ColumnOf(v.message(), im) : e.column;
            std::string value;
            for (size_t i = 0; i < im.header.size() && i < r.fields.size(); ++i) {
              if (im.header[i] == column) value = std::string(r.fields[i]);
            }
            row_error(column, value, v.message());
          } else {
            std::string segment = im.options.segment.value_or("");
            for (size_t i = 0; i < im.columns.size() && i < r.fields.size(); ++i) {
              if (im.columns[i] != kSegmentNameField) continue;
              std::string_view cell = r.fields[i];
              while (!cell.empty() && (cell.front() == ' ' || cell.front() == '\t')) cell.remove_prefix(1);
              while (!cell.empty() && (cell.back() == ' ' || cell.back() == '\t')) cell.remove_suffix(1);
              if (!cell.empty()) segment = std::string(cell.substr(0, kMaxNameBytes));
            }
            batch.contacts.push_back(std::move(c).value());
            batch.contact_rows.push_back(r.line);
            batch.contact_segments.push_back(std::move(segment));
          }
        }
        if (batch.rows_read >= sizer.size()) commit();
      },
      stop);
  wait_commit();
  if (!failure.ok()) return failure;
  OUTFLOW_RETURN_IF_ERROR(st);  // validation read the same bytes, so this is an I/O problem
  reader_done = !stop;
  if (stop_requested_.load() && !reader_done) {
    wait_commit();
    return failure.ok() ? Status::Unavailable("the daemon is stopping; the import resumes at the next start") : failure;
  }
  batch.last = true;
  if (batch.rows_read == 0) {  // the file ended on a batch boundary: keep the last position
    batch.bytes_done = committed.bytes_done == 0 ? im.bytes_total : committed.bytes_done;
    batch.next_line = committed.next_line;
    batch.next_index = committed.next_index;
  }
  commit();
  wait_commit();
  return failure;
}

RunResult ImportRunner::Run(const Job& job) {
  boost::system::error_code ec;
  json::value v = json::parse(job.payload, ec);
  if (ec || !v.is_object() || !v.as_object().contains("import_id")) return RunResult::Fail("payload: no import_id");
  ImportId id(v.at("import_id").to_number<int64_t>());
  Result<Import> im = store_.Get(id);
  if (!im.ok()) {
    if (im.status().code() == Code::kNotFound) return RunResult::Fail(im.status().message());
    return RunResult::Retry(im.status().message());
  }
  if (IsFinished(im->state)) return RunResult::Done();
  if (im->state == ImportState::kQueued) {
    Status st = store_.SetState(id, ImportState::kQueued, ImportState::kValidating, clock_.Now());
    if (!st.ok()) return st.code() == Code::kConflict ? RunResult::Done() : RunResult::Retry(st.message());
    im->state = ImportState::kValidating;
  }
  const auto started = std::chrono::steady_clock::now();
  auto elapsed_ms = [&] {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  };
  if (im->state == ImportState::kValidating) {
    Status st = Validate(*im);
    if ((st.code() == Code::kUnavailable || st.code() == Code::kInternal) && job.attempts < job.max_attempts) {
      return RunResult::Retry(st.message());
    }
    if (!st.ok()) {
      log::Info("import failed validation", {{"import", id.value()}, {"error", st.message()}});
      Status f = store_.Fail(id, st.message(), clock_.Now());
      return f.ok() ? RunResult::Done() : RunResult::Retry(f.message());
    }
    st = store_.SetValidated(*im, clock_.Now());
    if (st.code() == Code::kConflict) return RunResult::Done();  // cancelled meanwhile
    if (!st.ok()) return RunResult::Retry(st.message());
    im->state = ImportState::kRunning;
    log::Info("import validated", {{"import", id.value()}, {"rows", im->rows_total}, {"ms", elapsed_ms()}});
  }
  Status st = Apply(*im);
  if (st.code() == Code::kConflict) return RunResult::Done();  // cancelled, or another run moved on
  if (!st.ok()) {
    if (stop_requested_.load()) return RunResult::Retry(st.message(), clock_.Now());
    if (job.attempts >= job.max_attempts) {  // the job dies now: the import must not stay running
      Status f =
          store_.Fail(id, "gave up after " + std::to_string(job.attempts) + " attempts: " + st.message(), clock_.Now());
      if (!f.ok()) {
        log::Error("import stays running: its failure could not be recorded",
                   {{"import", id.value()}, {"error", f.ToString()}});
      }
    }
    return RunResult::Retry(st.message());  // resumes from the last committed batch
  }
  log::Info("import completed", {{"import", id.value()}, {"ms", elapsed_ms()}});
  return RunResult::Done();
}

}  // namespace outflow
