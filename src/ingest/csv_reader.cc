#include "ingest/csv_reader.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <utility>

namespace outflow {
namespace {

enum ByteClass : uint8_t { kPlain, kDelim, kQuote, kLf, kCr, kHigh };

constexpr std::string_view kBom = "\xEF\xBB\xBF";

bool IsValidDelimiter(char d) {
  return d == ',' || d == ';' || d == '\t';
}

// Detects the delimiter from the header line at the start of `text` (after the BOM):
// leading blank lines are skipped, then ',' ';' '\t' outside quotes are counted up to the
// line end. Returns kDetectDelimiter when the line end is not in `text` and `complete` is
// false (more bytes may change the answer).
char DetectDelimiter(std::string_view text, bool complete) {
  size_t i = 0;
  while (i < text.size() && (text[i] == '\n' || text[i] == '\r')) ++i;
  size_t counts[3] = {0, 0, 0};  // ',' ';' '\t'
  bool in_quotes = false;
  bool line_ended = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '"') {
      in_quotes = !in_quotes;
    } else if (in_quotes) {
      continue;
    } else if (c == '\n' || c == '\r') {
      line_ended = true;
      break;
    } else if (c == ',') {
      ++counts[0];
    } else if (c == ';') {
      ++counts[1];
    } else if (c == '\t') {
      ++counts[2];
    }
  }
  if (!line_ended && !complete) return kDetectDelimiter;
  if (counts[1] > counts[0] && counts[1] > counts[2]) return ';';
  if (counts[2] > counts[0] && counts[2] > counts[1]) return '\t';
  return ',';
}

std::string_view Trim(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return s.substr(b, e - b);
}

}  // namespace

CsvReader::CsvReader(Options options) : options_(options) {
  offset_ = options_.start_offset;
  line_ = options_.start_line;
  index_ = options_.start_index;
  fields_.reserve(32);
  views_.reserve(32);
}

Status CsvReader::Fail(Status st) {
  if (!st.ok() && status_.ok()) status_ = st;
  return st;
}

void CsvReader::SetDelimiter(char d) {
  delimiter_ = d;
  std::fill(std::begin(byte_class_), std::end(byte_class_), kPlain);
  for (int b = 0x80; b < 0x100; ++b) byte_class_[b] = kHigh;
  byte_class_[static_cast<unsigned char>(d)] = kDelim;
  byte_class_['"'] = kQuote;
  byte_class_['\n'] = kLf;
  byte_class_['\r'] = kCr;
  for (int b = 0; b < 0x100; ++b) {
    uint8_t k = byte_class_[b];
    unquoted_stop_[b] = k == kDelim || k == kLf || k == kCr || k == kHigh;
    quoted_stop_[b] = k == kQuote || k == kLf || k == kCr || k == kHigh;
  }
}

Status CsvReader::CheckOptions() {
  const Options& o = options_;
  if (o.delimiter != kDetectDelimiter && !IsValidDelimiter(o.delimiter)) {
    return Status::InvalidArgument("CSV delimiter must be ',', ';' or a tab");
  }
  if (o.max_record_bytes == 0) return Status::InvalidArgument("max_record_bytes must be positive");
  if (o.start_offset > 0) {
    if (o.delimiter == kDetectDelimiter) {
      return Status::InvalidArgument("resuming at byte offset " + std::to_string(o.start_offset) +
                                     " needs the delimiter: it cannot be detected mid-file");
    }
    if (o.start_index < 1 || o.start_line < 1) {
      return Status::InvalidArgument("resuming needs start_index >= 1 and start_line >= 1");
    }
    // Mid-file: no BOM, nothing to detect.
    SetDelimiter(o.delimiter);
    started_ = true;
  } else if (o.start_index != 0 || o.start_line != 1) {
    return Status::InvalidArgument("start_index and start_line apply only with a start_offset");
  }
  return Status::Ok();
}

// Reading from byte 0, settles the BOM and the delimiter from `head`, the first bytes of
// the file, once they are enough: the BOM needs 3 bytes, detection the header line (at
// most max_record_bytes of it). Returns the BOM length and sets started_, or returns
// nullopt to wait for more bytes (never when `final`).
std::optional<size_t> CsvReader::Start(std::string_view head, bool final) {
  if (!final && head.size() < kBom.size() && kBom.substr(0, head.size()) == head) return std::nullopt;
  size_t bom = head.substr(0, kBom.size()) == kBom ? kBom.size() : 0;
  char d = options_.delimiter;
  if (d == kDetectDelimiter) {
    bool complete = final || head.size() >= options_.max_record_bytes + bom;
    d = DetectDelimiter(head.substr(bom, options_.max_record_bytes), complete);
    if (d == kDetectDelimiter) return std::nullopt;
  }
  SetDelimiter(d);
  offset_ += bom;
  started_ = true;
  return bom;
}

Status CsvReader::Feed(std::string_view chunk, const CsvRecordCallback& on_record) {
  if (!status_.ok()) return status_;
  if (finished_) return Status::FailedPrecondition("CsvReader::Feed after Finish");
  if (!options_checked_) {
    options_checked_ = true;
    OUTFLOW_RETURN_IF_ERROR(Fail(CheckOptions()));
  }
  if (!started_) {
    // Detection looks at no more than this.
    const size_t cap = options_.max_record_bytes + kBom.size();
    if (head_.empty()) {
      // Usually the first chunk holds the header line: parse it in place.
      if (std::optional<size_t> bom = Start(chunk.substr(0, cap), false)) {
        chunk.remove_prefix(*bom);
        return Process(chunk.data(), chunk.size(), false, on_record);
      }
    }
    size_t take = std::min(chunk.size(), cap > head_.size() ? cap - head_.size() : 0);
    head_.append(chunk.data(), take);
    chunk.remove_prefix(take);
    std::optional<size_t> bom = Start(head_, false);
    if (!bom) return Status::Ok();  // then the whole chunk is in head_
    std::string head = std::move(head_);
    head_.clear();
    OUTFLOW_RETURN_IF_ERROR(Process(head.data() + *bom, head.size() - *bom, false, on_record));
  }
  return Process(chunk.data(), chunk.size(), false, on_record);
}

Status CsvReader::Finish(const CsvRecordCallback& on_record) {
  if (!status_.ok()) return status_;
  if (finished_) return Status::FailedPrecondition("CsvReader::Finish called twice");
  finished_ = true;
  if (!options_checked_) {
    options_checked_ = true;
    OUTFLOW_RETURN_IF_ERROR(Fail(CheckOptions()));
  }
  if (!started_) {
    size_t bom = *Start(head_, true);
    std::string head = std::move(head_);
    head_.clear();
    OUTFLOW_RETURN_IF_ERROR(Process(head.data() + bom, head.size() - bom, false, on_record));
  }
  OUTFLOW_RETURN_IF_ERROR(Process(nullptr, 0, true, on_record));
  if (options_.start_offset == 0 && delivered_ == 0) {
    return Fail(
        Status::InvalidArgument(data_bytes_ == 0 ? "the file is empty" : "the file has only blank lines, no header"));
  }
  return Status::Ok();
}

Status CsvReader::CheckSize(size_t record_bytes) {
  if (record_bytes <= options_.max_record_bytes) return Status::Ok();
  return Fail(Status::InvalidArgument("line " + std::to_string(line_) + ": record exceeds " +
                                      std::to_string(options_.max_record_bytes) + " bytes (unbalanced quote?)"));
}

// Consumes `data` (the next bytes after head_), or with `final` (and no data) ends the
// input. Records are parsed straight from `data`; only a record cut by the end of `data`
// goes to carry_, which then grows a line at a time until the record is complete.
Status CsvReader::Process(const char* data, size_t size, bool final, const CsvRecordCallback& on_record) {
  data_bytes_ += size;
  size_t pos = 0;
  if (in_record_) {
    for (;;) {
      if (pos < size) {
        // The record can only end at a line end (or one byte after a CR): add up to the next.
        size_t e = pos;
        while (e < size && data[e] != '\n' && data[e] != '\r') ++e;
        e = std::min(e + 1, size);
        carry_.append(data + pos, e - pos);
        pos = e;
      } else if (!final) {
        return Status::Ok();
      }
      Step step = ParseRecord(carry_.data(), carry_.size(), final && pos == size);
      if (step == Step::kError) return status_;
      if (step == Step::kNeedMore) {
        OUTFLOW_RETURN_IF_ERROR(CheckSize(carry_.size()));
        if (pos == size && !final) return Status::Ok();
        continue;
      }
      OUTFLOW_RETURN_IF_ERROR(CheckSize(rs_.end));
      // Bytes past the record end came from the last piece, i.e. from `data`.
      pos -= carry_.size() - rs_.end;
      Deliver(carry_.data(), on_record);
      in_record_ = false;
      carry_.clear();
      break;
    }
  }
  while (pos < size) {
    char c = data[pos];
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') {  // the LF of a blank line's CRLF
        ++pos;
        ++offset_;
        continue;
      }
    }
    if (c == '\n' || c == '\r') {  // a blank line: not a record
      ++line_;
      ++pos;
      ++offset_;
      after_cr_ = c == '\r';
      continue;
    }
    BeginRecord();
    Step step = ParseRecord(data + pos, size - pos, false);
    if (step == Step::kError) return status_;
    if (step == Step::kNeedMore) {
      OUTFLOW_RETURN_IF_ERROR(CheckSize(size - pos));
      carry_.assign(data + pos, size - pos);
      in_record_ = true;
      return Status::Ok();
    }
    OUTFLOW_RETURN_IF_ERROR(CheckSize(rs_.end));
    Deliver(data + pos, on_record);
    pos += rs_.end;
  }
  return Status::Ok();
}

void CsvReader::BeginRecord() {
  rs_ = RecordState{};
  fields_.clear();
  scratch_.clear();
  record_.error.reset();
}

void CsvReader::Deliver(const char* buf, const CsvRecordCallback& on_record) {
  views_.clear();
  for (const FieldRef& f : fields_) {
    views_.emplace_back(f.in_scratch ? scratch_.data() + f.begin : buf + f.begin, f.size);
  }
  int64_t end_line = line_ + rs_.newlines + (rs_.terminated ? 1 : 0);
  record_.fields = views_;
  record_.line = line_;
  record_.index = index_;
  record_.offset = offset_;
  record_.end_offset = offset_ + rs_.end;
  record_.end_line = end_line;
  offset_ += rs_.end;
  line_ = end_line;
  ++index_;
  ++delivered_;
  on_record(record_);
}

void CsvReader::SetRowError(CsvRowErrorKind kind, size_t pos, std::string what) {
  if (record_.error) return;  // the first problem is the one reported
  CsvRowError& e = record_.error.emplace();
  e.kind = kind;
  e.column = static_cast<int>(fields_.size()) + 1;
  e.byte_offset = offset_ + pos;
  e.message = "line " + std::to_string(line_) + ", column " + std::to_string(e.column) + ": " + what +
              " at byte offset " + std::to_string(e.byte_offset);
}

// At p is a byte >= 0x80. Advances p past a valid sequence, or past the first byte of an
// invalid one (flagging the row). Returns false when the sequence is cut by the end of the
// bytes and more may follow.
bool CsvReader::CheckUtf8(const unsigned char* u, size_t& p, size_t len, bool final) {
  unsigned char b0 = u[p];
  size_t n = b0 < 0xC2 ? 0 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : b0 < 0xF5 ? 4 : 0;
  bool valid = n != 0;
  if (valid) {
    unsigned char lo = b0 == 0xE0 ? 0xA0 : b0 == 0xF0 ? 0x90 : 0x80;
    unsigned char hi = b0 == 0xED ? 0x9F : b0 == 0xF4 ? 0x8F : 0xBF;
    size_t avail = std::min(n, len - p);
    for (size_t i = 1; i < avail && valid; ++i) {
      unsigned char b = u[p + i];
      valid = i == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
    }
    if (valid && avail < n) {
      if (!final) return false;
      valid = false;
    }
  }
  if (valid) {
    p += n;
  } else {
    SetRowError(CsvRowErrorKind::kInvalidUtf8, p, "invalid UTF-8");
    ++p;
  }
  return true;
}

// At p is a line end outside quotes. Sets the record's end; false when a CR is the last
// byte and the next one (an LF or not) is still to come.
bool CsvReader::EndLine(const unsigned char* u, size_t p, size_t len, bool final) {
  size_t end = p + 1;
  if (u[p] == '\r') {
    if (end < len) {
      if (u[end] == '\n') ++end;
    } else if (!final) {
      return false;
    }
  }
  rs_.end = end;
  rs_.terminated = true;
  return true;
}

void CsvReader::FinishQuoted(const char* buf, size_t trail_end) {
  size_t trail_begin = rs_.trailing ? rs_.trail_begin : trail_end;
  if (!rs_.has_escape && trail_begin == trail_end) {
    PushField(rs_.field_begin, rs_.quote_end);
    return;
  }
  size_t start = scratch_.size();
  const char* p = buf + rs_.field_begin;
  const char* e = buf + rs_.quote_end;
  while (p < e) {
    const char* q = static_cast<const char*>(std::memchr(p, '"', static_cast<size_t>(e - p)));
    if (q == nullptr) {
      scratch_.append(p, static_cast<size_t>(e - p));
      break;
    }
    scratch_.append(p, static_cast<size_t>(q - p) + 1);  // keep one quote of the pair
    p = q + 2;
  }
  scratch_.append(buf + trail_begin, trail_end - trail_begin);
  fields_.push_back({start, scratch_.size() - start, true});
}

void CsvReader::EndUnquoted(const char* buf, size_t end) {
  if (rs_.trailing) {
    FinishQuoted(buf, end);
  } else {
    PushField(rs_.field_begin, end);
  }
}

// Parses the record at buf[0..len), resuming from rs_. `final`: no bytes follow.
CsvReader::Step CsvReader::ParseRecord(const char* buf, size_t len, bool final) {
  const auto* u = reinterpret_cast<const unsigned char*>(buf);
  RecordState& s = rs_;
  size_t p = s.pos;
  for (;;) {
    switch (s.state) {
      case State::kFieldStart: {
        if (p == len) {
          if (!final) {
            s.pos = p;
            return Step::kNeedMore;
          }
          PushField(p, p);  // input ends after a delimiter: an empty last field
          s.end = p;
          return Step::kComplete;
        }
        uint8_t k = byte_class_[u[p]];
        s.trailing = false;
        if (k == kQuote) {
          s.state = State::kQuoted;
          s.field_begin = p + 1;
          s.has_escape = false;
          s.quote_newlines = s.newlines;
          ++p;
        } else if (k == kDelim) {
          PushField(p, p);
          ++p;
        } else if (k == kLf || k == kCr) {  // the line ends after a delimiter
          if (!EndLine(u, p, len, final)) {
            s.pos = p;
            return Step::kNeedMore;
          }
          PushField(p, p);
          return Step::kComplete;
        } else {
          s.state = State::kUnquoted;
          s.field_begin = p;
        }
        break;
      }

      case State::kUnquoted: {
        for (;;) {
          while (p < len && !unquoted_stop_[u[p]]) ++p;
          if (p == len) {
            if (!final) {
              s.pos = p;
              return Step::kNeedMore;
            }
            EndUnquoted(buf, p);
            s.end = p;
            return Step::kComplete;
          }
          uint8_t k = byte_class_[u[p]];
          if (k == kDelim) {
            EndUnquoted(buf, p);
            ++p;
            s.state = State::kFieldStart;
            break;
          }
          if (k == kHigh) {
            if (!CheckUtf8(u, p, len, final)) {
              s.pos = p;
              return Step::kNeedMore;
            }
            continue;
          }
          if (!EndLine(u, p, len, final)) {  // kLf or kCr
            s.pos = p;
            return Step::kNeedMore;
          }
          EndUnquoted(buf, p);
          return Step::kComplete;
        }
        break;
      }

      case State::kQuoted: {
        for (;;) {
          while (p < len && !quoted_stop_[u[p]]) ++p;
          if (p == len) {
            if (!final) {
              s.pos = p;
              return Step::kNeedMore;
            }
            status_ = Status::InvalidArgument("line " + std::to_string(line_ + s.quote_newlines) +
                                              ": quoted field is never closed");
            return Step::kError;
          }
          uint8_t k = byte_class_[u[p]];
          if (k == kQuote) {
            if (p + 1 == len && !final) {
              s.pos = p;
              return Step::kNeedMore;
            }
            if (p + 1 < len && u[p + 1] == '"') {
              s.has_escape = true;
              p += 2;
              continue;
            }
            s.quote_end = p;
            ++p;
            s.state = State::kAfterQuote;
            break;
          }
          if (k == kLf) {
            if (u[p - 1] != '\r') ++s.newlines;  // p - 1 is at least the opening quote
            ++p;
          } else if (k == kCr) {
            ++s.newlines;
            ++p;
          } else if (!CheckUtf8(u, p, len, final)) {  // kHigh
            s.pos = p;
            return Step::kNeedMore;
          }
        }
        break;
      }

      case State::kAfterQuote: {
        if (p == len) {
          if (!final) {
            s.pos = p;
            return Step::kNeedMore;
          }
          FinishQuoted(buf, p);
          s.end = p;
          return Step::kComplete;
        }
        uint8_t k = byte_class_[u[p]];
        if (k == kDelim) {
          FinishQuoted(buf, p);
          ++p;
          s.state = State::kFieldStart;
        } else if (k == kLf || k == kCr) {
          if (!EndLine(u, p, len, final)) {
            s.pos = p;
            return Step::kNeedMore;
          }
          FinishQuoted(buf, p);
          return Step::kComplete;
        } else {
          // `"ab"c`: keep the text, flag the row, read on as an unquoted field.
          SetRowError(CsvRowErrorKind::kTextAfterClosingQuote, p, "text after the closing quote");
          s.trailing = true;
          s.trail_begin = p;
          s.state = State::kUnquoted;
        }
        break;
      }
    }
  }
}

std::optional<size_t> CsvHeader::Find(std::string_view key) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].key == key) return i;
  }
  return std::nullopt;
}

std::string NormaliseHeaderKey(std::string_view name) {
  std::string key(Trim(name));
  for (char& c : key) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    } else if (c == ' ' || c == '-') {
      c = '_';
    }
  }
  return key;
}

Result<CsvHeader> ParseHeader(const CsvRecord& record) {
  std::string where = "line " + std::to_string(record.line) + ": ";
  if (record.error) return Status::InvalidArgument("header: " + record.error->message);
  CsvHeader header;
  header.columns.reserve(record.fields.size());
  std::vector<int> empty;
  std::map<std::string, std::vector<int>> by_key;
  for (size_t i = 0; i < record.fields.size(); ++i) {
    CsvColumn col;
    col.original = std::string(record.fields[i]);
    col.name = std::string(Trim(record.fields[i]));
    col.key = NormaliseHeaderKey(col.name);
    int number = static_cast<int>(i) + 1;
    if (col.name.empty()) {
      empty.push_back(number);
    } else {
      by_key[col.key].push_back(number);
    }
    header.columns.push_back(std::move(col));
  }
  auto list = [](const std::vector<int>& numbers) {
    std::string out;
    for (size_t i = 0; i < numbers.size(); ++i) {
      if (i > 0) out += i + 1 == numbers.size() ? " and " : ", ";
      out += std::to_string(numbers[i]);
    }
    return out;
  };
  std::vector<std::string> problems;
  if (empty.size() == 1) problems.push_back("header column " + list(empty) + " is empty");
  if (empty.size() > 1) problems.push_back("header columns " + list(empty) + " are empty");
  // Report duplicates in the order of their first column.
  std::vector<std::pair<int, std::string>> dups;
  for (const auto& [key, numbers] : by_key) {
    if (numbers.size() > 1) {
      dups.emplace_back(numbers[0], "header columns " + list(numbers) +
                                        (numbers.size() == 2 ? " are both" : " are all") + " \"" + key + "\"");
    }
  }
  std::sort(dups.begin(), dups.end());
  for (auto& d : dups) problems.push_back(std::move(d.second));
  if (problems.empty()) return header;
  std::string message = where;
  for (size_t i = 0; i < problems.size(); ++i) {
    if (i > 0) message += "; ";
    message += problems[i];
  }
  return Status::InvalidArgument(message);
}

Status CheckFieldCount(const CsvRecord& record, const CsvHeader& header) {
  if (record.fields.size() == header.size()) return Status::Ok();
  size_t n = record.fields.size();
  return Status::InvalidArgument("line " + std::to_string(record.line) + ": " + std::to_string(n) +
                                 (n == 1 ? " field" : " fields") + ", the header has " + std::to_string(header.size()));
}

}  // namespace outflow
