#include "ingest/csv_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "testing/status_matchers.h"

namespace outflow {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// An owned copy of what the callback saw.
struct Rec {
  std::vector<std::string> fields;
  int64_t line = 0;
  int64_t index = 0;
  uint64_t offset = 0;
  uint64_t end_offset = 0;
  int64_t end_line = 0;
  std::optional<CsvRowErrorKind> error_kind;
  int error_column = 0;
  uint64_t error_offset = 0;
  std::string error_message;

  bool operator==(const Rec&) const = default;
};

void PrintTo(const Rec& r, std::ostream* os) {
  *os << "{line " << r.line << ", index " << r.index << ", bytes [" << r.offset << ", " << r.end_offset
      << "), end_line " << r.end_line << ", fields [";
  for (size_t i = 0; i < r.fields.size(); ++i) *os << (i ? "|" : "") << ::testing::PrintToString(r.fields[i]);
  *os << "]";
  if (r.error_kind) *os << ", error: " << r.error_message;
  *os << "}";
}

struct Outcome {
  std::vector<Rec> records;
  Code code = Code::kOk;
  std::string message;
  char delimiter = kDetectDelimiter;

  bool operator==(const Outcome&) const = default;
};

void PrintTo(const Outcome& o, std::ostream* os) {
  *os << "status " << static_cast<int>(o.code) << " \"" << o.message << "\", delimiter "
      << static_cast<int>(o.delimiter) << ", " << o.records.size() << " records:";
  for (const Rec& r : o.records) {
    *os << "\n  ";
    PrintTo(r, os);
  }
}

Rec Copy(const CsvRecord& r) {
  Rec out;
  for (std::string_view f : r.fields) out.fields.emplace_back(f);
  out.line = r.line;
  out.index = r.index;
  out.offset = r.offset;
  out.end_offset = r.end_offset;
  out.end_line = r.end_line;
  if (r.error) {
    out.error_kind = r.error->kind;
    out.error_column = r.error->column;
    out.error_offset = r.error->byte_offset;
    out.error_message = r.error->message;
  }
  return out;
}

// Feeds `pieces` in order, then finishes; stops at the first error.
Outcome ReadPieces(const std::vector<std::string_view>& pieces, CsvReaderOptions options = {}) {
  Outcome out;
  CsvReader reader(options);
  auto on_record = [&](const CsvRecord& r) { out.records.push_back(Copy(r)); };
  Status st;
  for (std::string_view piece : pieces) {
    st = reader.Feed(piece, on_record);
    if (!st.ok()) break;
  }
  if (st.ok()) st = reader.Finish(on_record);
  out.code = st.code();
  out.message = st.message();
  out.delimiter = reader.delimiter();
  return out;
}

Outcome Read(std::string_view input, CsvReaderOptions options = {}) {
  return ReadPieces({input}, options);
}

Outcome ReadBytewise(std::string_view input, CsvReaderOptions options = {}) {
  std::vector<std::string_view> pieces;
  for (size_t i = 0; i < input.size(); ++i) pieces.push_back(input.substr(i, 1));
  return ReadPieces(pieces, options);
}

// Splits at the given ascending positions.
Outcome ReadSplit(std::string_view input, const std::vector<size_t>& cuts, CsvReaderOptions options = {}) {
  std::vector<std::string_view> pieces;
  size_t prev = 0;
  for (size_t c : cuts) {
    pieces.push_back(input.substr(prev, c - prev));
    prev = c;
  }
  pieces.push_back(input.substr(prev));
  return ReadPieces(pieces, options);
}

std::vector<std::vector<std::string>> Fields(const Outcome& o) {
  std::vector<std::vector<std::string>> out;
  for (const Rec& r : o.records) out.push_back(r.fields);
  return out;
}

using Rows = std::vector<std::vector<std::string>>;

// ---------------------------------------------------------------------------------------------
// A plain, whole-input reference parser written straight from the rules in csv_reader.h,
// used to check the streaming reader on random inputs.

// Offset of the first invalid UTF-8 byte in s[b, e), if any.
std::optional<size_t> FirstInvalidUtf8(std::string_view s, size_t b, size_t e) {
  size_t i = b;
  while (i < e) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || i + n > e) return i;
    uint32_t cp = n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k < n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    uint32_t min = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += n;
  }
  return std::nullopt;
}

Outcome Reference(std::string_view s, char d) {
  Outcome out;
  out.delimiter = d;
  size_t i = 0;
  int64_t line = 1;
  const size_t n = s.size();
  auto fail = [&](std::string m) {
    out.code = Code::kInvalidArgument;
    out.message = std::move(m);
    return out;
  };
  while (i < n) {
    if (s[i] == '\n') {
      ++line, ++i;
      continue;
    }
    if (s[i] == '\r') {
      ++line, ++i;
      if (i < n && s[i] == '\n') ++i;
      continue;
    }
    Rec rec;
    rec.line = line;
    rec.index = static_cast<int64_t>(out.records.size());
    rec.offset = i;
    auto flag = [&](CsvRowErrorKind kind, size_t at, const std::string& what) {
      if (rec.error_kind) return;
      rec.error_kind = kind;
      rec.error_column = static_cast<int>(rec.fields.size()) + 1;
      rec.error_offset = at;
      rec.error_message = "line " + std::to_string(rec.line) + ", column " + std::to_string(rec.error_column) + ": " +
                          what + " at byte offset " + std::to_string(at);
    };
    for (;;) {
      std::string field;
      size_t raw_begin = i;
      std::optional<size_t> after_quote;
      if (i < n && s[i] == '"') {
        int64_t quote_line = line;
        ++i;
        for (;;) {
          if (i == n) return fail("line " + std::to_string(quote_line) + ": quoted field is never closed");
          char c = s[i];
          if (c == '"') {
            if (i + 1 < n && s[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          if (c == '\r') ++line;
          if (c == '\n' && s[i - 1] != '\r') ++line;
          field += c;
          ++i;
        }
        if (i < n && s[i] != d && s[i] != '\n' && s[i] != '\r') after_quote = i;
      }
      while (i < n && s[i] != d && s[i] != '\n' && s[i] != '\r') field += s[i++];
      std::optional<size_t> bad = FirstInvalidUtf8(s, raw_begin, i);
      if (after_quote && (!bad || *after_quote <= *bad)) {  // at the same byte, the quote error wins
        flag(CsvRowErrorKind::kTextAfterClosingQuote, *after_quote, "text after the closing quote");
      } else if (bad) {
        flag(CsvRowErrorKind::kInvalidUtf8, *bad, "invalid UTF-8");
      }
      rec.fields.push_back(field);
      if (i == n) break;
      if (s[i] == d) {
        ++i;
        if (i == n) {
          rec.fields.emplace_back();
          break;
        }
        continue;
      }
      if (s[i] == '\r') {
        ++i;
        if (i < n && s[i] == '\n') ++i;
      } else {
        ++i;
      }
      ++line;
      break;
    }
    rec.end_offset = i;
    rec.end_line = line;
    out.records.push_back(rec);
  }
  if (out.records.empty()) return fail(n == 0 ? "the file is empty" : "the file has only blank lines, no header");
  return out;
}

// Inputs that exercise every state at every cut position.
const std::vector<std::string>& Corpus() {
  static const std::vector<std::string> corpus = {
      "name,email\nAda,ada@example.com\nBob,bob@example.com\n",
      "\xEF\xBB\xBFname;email\r\nAd\xC3\xA9le;a@x.fr\r\n\r\nZo\xC3\xAB;\"z;1\"\r\n",
      "a,b\r\"x\r\ny\",\"q\"\"r\"\r\r\nc,\xF0\x9F\x98\x80\r",
      "h1\th2\th3\n\"a\"\"\"\tb\t\n\n\"multi\nline\n\",,\"\"",
      "a,b\n\"ab\"c,d\nx\"y,\xFF\n\"\xE2\x82\xAC\",\"\xE2\x82\"\nlast,row",
      "k\n\"open\n\nnever closed",
      "\n\r\n\rh,i\n1,2",
      "only,a,header\r\n",
      "a,\"b\"\r",
      "x,y\n1,\"\"\n\"\",2\n,\n",
  };
  return corpus;
}

// ---------------------------------------------------------------------------------------------
// Basics, offsets, line numbers.

TEST(CsvReader, ReadsRecordsWithLinesIndexesAndOffsets) {
  Outcome o = Read("name,email\nAda,ada@x.org\nBob,bob@x.org");
  ASSERT_EQ(o.code, Code::kOk) << o.message;
  EXPECT_EQ(Fields(o), (Rows{{"name", "email"}, {"Ada", "ada@x.org"}, {"Bob", "bob@x.org"}}));
  ASSERT_EQ(o.records.size(), 3u);
  EXPECT_EQ(o.records[0].index, 0);
  EXPECT_EQ(o.records[2].index, 2);
  EXPECT_EQ(o.records[1].line, 2);
  EXPECT_EQ(o.records[0].offset, 0u);
  EXPECT_EQ(o.records[0].end_offset, 11u);  // past the LF
  EXPECT_EQ(o.records[1].offset, 11u);
  EXPECT_EQ(o.records[1].end_offset, 25u);
  EXPECT_EQ(o.records[1].end_line, 3);
  EXPECT_EQ(o.records[2].end_offset, 38u);  // no final line end
  EXPECT_EQ(o.records[2].end_line, 3);
  EXPECT_FALSE(o.records[1].error_kind);
}

TEST(CsvReader, LineNumbersCountLineEndsInsideQuotes) {
  Outcome o = Read("a,b\n\"one\ntwo\r\nthree\rfour\",x\nnext,row\n");
  ASSERT_EQ(o.code, Code::kOk) << o.message;
  ASSERT_EQ(o.records.size(), 3u);
  EXPECT_EQ(o.records[1].fields[0], "one\ntwo\r\nthree\rfour");
  EXPECT_EQ(o.records[1].line, 2);
  EXPECT_EQ(o.records[1].end_line, 6);
  EXPECT_EQ(o.records[2].line, 6);
}

TEST(CsvReader, UnquotedAndPlainQuotedFieldsAreViewsIntoTheChunk) {
  std::string input = "a,b,c\nplain,\"quoted, no escapes\",\"with \"\"escape\"\"\"\n";
  CsvReader reader;
  std::vector<bool> inside;
  std::vector<std::string> values;
  ASSERT_OK(reader.Feed(input, [&](const CsvRecord& r) {
    if (r.index == 0) return;
    for (std::string_view f : r.fields) {
      inside.push_back(f.data() >= input.data() && f.data() + f.size() <= input.data() + input.size());
      values.emplace_back(f);
    }
  }));
  ASSERT_OK(reader.Finish([](const CsvRecord&) {}));
  EXPECT_THAT(values, ElementsAre("plain", "quoted, no escapes", "with \"escape\""));
  EXPECT_THAT(inside, ElementsAre(true, true, false));
}

// ---------------------------------------------------------------------------------------------
// Dialect.

TEST(CsvReader, DetectsComma) {
  Outcome o = Read("a,b;c,d\n1,2;3,4\n");
  EXPECT_EQ(o.delimiter, ',');
  EXPECT_EQ(Fields(o), (Rows{{"a", "b;c", "d"}, {"1", "2;3", "4"}}));
}

TEST(CsvReader, DetectsSemicolon) {
  Outcome o = Read("Vorname;Nachname;E-Mail\nJ\xC3\xBCrgen;M\xC3\xBCller, Dr.;j@x.de\n");
  ASSERT_EQ(o.code, Code::kOk) << o.message;
  EXPECT_EQ(o.delimiter, ';');
  EXPECT_EQ(Fields(o), (Rows{{"Vorname", "Nachname", "E-Mail"}, {"J\xC3\xBCrgen", "M\xC3\xBCller, Dr.", "j@x.de"}}));
}

TEST(CsvReader, DetectsTab) {
  Outcome o = Read("a\tb\tc\n1,5\t2\t3\n");
  EXPECT_EQ(o.delimiter, '\t');
  EXPECT_EQ(Fields(o), (Rows{{"a", "b", "c"}, {"1,5", "2", "3"}}));
}

TEST(CsvReader, DetectionIgnoresDelimitersInsideQuotes) {
  Outcome o = Read("\"a,b,c\";\"d,e\";f\n1;2;3\n");
  EXPECT_EQ(o.delimiter, ';');
  EXPECT_EQ(Fields(o), (Rows{{"a,b,c", "d,e", "f"}, {"1", "2", "3"}}));
}

TEST(CsvReader, DetectionTieOrNoneMeansComma) {
  EXPECT_EQ(Read("a;b,c\n").delimiter, ',');
  EXPECT_EQ(Read("a;b\tc\n").delimiter, ',');  // ';' and tab tie
  Outcome none = Read("email\nx@y.z\n");
  EXPECT_EQ(none.delimiter, ',');
  EXPECT_EQ(Fields(none), (Rows{{"email"}, {"x@y.z"}}));
}

TEST(CsvReader, DetectionLooksOnlyAtTheHeaderLineAfterBlankLines) {
  Outcome o = Read("\n\r\na;b\nx,y,z,w\n");
  EXPECT_EQ(o.delimiter, ';');
  EXPECT_EQ(Fields(o), (Rows{{"a", "b"}, {"x,y,z,w"}}));
  EXPECT_EQ(o.records[0].line, 3);
}

TEST(CsvReader, GivenDelimiterIsUsed) {
  CsvReaderOptions options;
  options.delimiter = ';';
  Outcome o = Read("a,b,c\n1;2\n", options);
  EXPECT_EQ(o.delimiter, ';');
  EXPECT_EQ(Fields(o), (Rows{{"a,b,c"}, {"1", "2"}}));
}

TEST(CsvReader, RejectsABadDelimiterOption) {
  CsvReaderOptions options;
  options.delimiter = '|';
  Outcome o = Read("a|b\n", options);
  EXPECT_EQ(o.code, Code::kInvalidArgument);
  EXPECT_THAT(o.message, HasSubstr("delimiter"));
  EXPECT_TRUE(o.records.empty());
}

TEST(CsvReader, StripsTheBomAndCountsItInOffsets) {
  Outcome o = Read("\xEF\xBB\xBFid,name\n1,x\n");
  ASSERT_EQ(o.code, Code::kOk) << o.message;
  EXPECT_EQ(Fields(o), (Rows{{"id", "name"}, {"1", "x"}}));
  EXPECT_EQ(o.records[0].offset, 3u);
  EXPECT_EQ(o.records[1].offset, 11u);
  // Split inside the BOM.
  EXPECT_EQ(ReadPieces({"\xEF", "\xBB", "\xBFid,name\n1,x\n"}), o);
}

TEST(CsvReader, APartialBomIsData) {
  Outcome o = Read("\xEF\xBBx,y\n");
  ASSERT_EQ(o.records.size(), 1u);
  EXPECT_EQ(o.records[0].fields[0], "\xEF\xBBx");
  EXPECT_EQ(o.records[0].error_kind, CsvRowErrorKind::kInvalidUtf8);
  EXPECT_EQ(o.records[0].error_offset, 0u);
  // A BOM only in the middle of the file is not stripped.
  Outcome mid = Read(
      "a\n\xEF\xBB\xBF"
      "b\n");
  EXPECT_EQ(Fields(mid), (Rows{{"a"},
                               {"\xEF\xBB\xBF"
                                "b"}}));
}

TEST(CsvReader, LfCrlfAndLoneCrLineEnds) {
  Rows expected{{"a", "b"}, {"1", "2"}, {"3", "4"}};
  EXPECT_EQ(Fields(Read("a,b\n1,2\n3,4\n")), expected);
  EXPECT_EQ(Fields(Read("a,b\r\n1,2\r\n3,4\r\n")), expected);
  EXPECT_EQ(Fields(Read("a,b\r1,2\r3,4\r")), expected);
  EXPECT_EQ(Fields(Read("a,b\r\n1,2\r3,4\n")), expected);
  Outcome cr = Read("a,b\r1,2\r3,4");
  EXPECT_EQ(Fields(cr), expected);
  EXPECT_EQ(cr.records[2].line, 3);
  EXPECT_EQ(cr.records[1].end_offset, 8u);
}

TEST(CsvReader, CrOnlyFileWithQuotedCrAndBlankLines) {
  Outcome o = Read("h1,h2\r\r\"x\ry\",z\r\rlast,1\r");
  ASSERT_EQ(o.code, Code::kOk) << o.message;
  EXPECT_EQ(Fields(o), (Rows{{"h1", "h2"}, {"x\ry", "z"}, {"last", "1"}}));
  EXPECT_EQ(o.records[1].line, 3);
  EXPECT_EQ(o.records[2].line, 6);
  EXPECT_EQ(o.records[2].end_line, 7);
}

TEST(CsvReader, CrlfEndOffsetIncludesTheLf) {
  Outcome o = Read("a\r\nb\r\n");
  ASSERT_EQ(o.records.size(), 2u);
  EXPECT_EQ(o.records[0].end_offset, 3u);
  EXPECT_EQ(o.records[1].offset, 3u);
  EXPECT_EQ(o.records[1].end_offset, 6u);
  EXPECT_EQ(o.records[1].end_line, 3);
}

TEST(CsvReader, Rfc4180Quoting) {
  Outcome o = Read("a,b,c\n\"x, y\",\"say \"\"hi\"\"\",\"\"\n\"\"\"\",\"a\nb\",\"\"\"q\"\"\"\n");
  ASSERT_EQ(o.code, Code::kOk) << o.message;
  EXPECT_EQ(Fields(o), (Rows{{"a", "b", "c"}, {"x, y", "say \"hi\"", ""}, {"\"", "a\nb", "\"q\""}}));
  for (const Rec& r : o.records) EXPECT_FALSE(r.error_kind) << r.error_message;
}

TEST(CsvReader, QuotedFieldAtEndOfInput) {
  EXPECT_EQ(Fields(Read("a\n\"x\"")), (Rows{{"a"}, {"x"}}));
  EXPECT_EQ(Fields(Read("a\n\"x\"\"\"")), (Rows{{"a"}, {"x\""}}));
}

TEST(CsvReader, StrayQuoteInUnquotedFieldIsLiteral) {
  Outcome o = Read("a,b\nab\"c,d\"\n \"x\",y\n");
  ASSERT_EQ(o.code, Code::kOk) << o.message;
  EXPECT_EQ(Fields(o), (Rows{{"a", "b"}, {"ab\"c", "d\""}, {" \"x\"", "y"}}));
  for (const Rec& r : o.records) EXPECT_FALSE(r.error_kind);
}

TEST(CsvReader, TextAfterClosingQuoteIsARowError) {
  Outcome o = Read("a,b,c\n1,\"ab\"c,3\n\"x\" ,y,z\ngood,row,here\n");
  ASSERT_EQ(o.code, Code::kOk) << o.message;
  ASSERT_EQ(o.records.size(), 4u);
  const Rec& r = o.records[1];
  EXPECT_EQ(r.fields, (std::vector<std::string>{"1", "abc", "3"}));
  EXPECT_EQ(r.error_kind, CsvRowErrorKind::kTextAfterClosingQuote);
  EXPECT_EQ(r.error_column, 2);
  EXPECT_EQ(r.error_offset, 12u);
  EXPECT_EQ(r.error_message, "line 2, column 2: text after the closing quote at byte offset 12");
  EXPECT_EQ(o.records[2].fields[0], "x ");
  EXPECT_EQ(o.records[2].error_kind, CsvRowErrorKind::kTextAfterClosingQuote);
  EXPECT_EQ(o.records[2].error_column, 1);
  EXPECT_FALSE(o.records[3].error_kind);
  EXPECT_EQ(o.records[3].fields[0], "good");
}

TEST(CsvReader, TextAfterClosingQuoteKeepsEscapesAndLaterQuotes) {
  Outcome o = Read("\"a\"\"b\"c\"d,e\n");
  ASSERT_EQ(o.records.size(), 1u);
  EXPECT_EQ(o.records[0].fields, (std::vector<std::string>{"a\"bc\"d", "e"}));
}

TEST(CsvReader, ValidUtf8IsAccepted) {
  Outcome o = Read("n\n\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF\xED\x9F\xBF\n");
  ASSERT_EQ(o.records.size(), 2u);
  EXPECT_FALSE(o.records[1].error_kind) << o.records[1].error_message;
}

TEST(CsvReader, InvalidUtf8IsARowErrorNamingColumnAndOffset) {
  struct Case {
    std::string bytes;
    size_t bad_at;  // within `bytes`
  };
  const Case cases[] = {
      {"\x80", 0},               // stray continuation
      {"ab\xC0\x80", 2},         // overlong 2-byte
      {"\xC1\xBF", 0},           // overlong 2-byte
      {"\xE0\x80\x80", 0},       // overlong 3-byte
      {"\xED\xA0\x80", 0},       // surrogate
      {"\xF0\x80\x80\x80", 0},   // overlong 4-byte
      {"\xF4\x90\x80\x80", 0},   // above U+10FFFF
      {"\xF5\x80\x80\x80", 0},   // bad lead
      {"\xFF", 0},               // bad lead
      {"x\xC3", 1},              // truncated by the delimiter
      {"\xE2\x82", 0},           // truncated
      {"\xC3\xA9\xC3(", 2},      // bad continuation after a good sequence
      {"\"q\xF0\x9F\x98\"", 2},  // truncated by the closing quote
  };
  for (const Case& c : cases) {
    std::string input = "a,b\nok," + c.bytes + ",z\nnext,row\n";
    Outcome o = Read(input);
    ASSERT_EQ(o.code, Code::kOk) << o.message;
    ASSERT_EQ(o.records.size(), 3u) << ::testing::PrintToString(c.bytes);
    const Rec& r = o.records[1];
    EXPECT_EQ(r.error_kind, CsvRowErrorKind::kInvalidUtf8) << ::testing::PrintToString(c.bytes);
    EXPECT_EQ(r.error_column, 2) << ::testing::PrintToString(c.bytes);
    EXPECT_EQ(r.error_offset, 7 + c.bad_at) << ::testing::PrintToString(c.bytes);
    EXPECT_EQ(r.error_message, "line 2, column 2: invalid UTF-8 at byte offset " + std::to_string(7 + c.bad_at));
    EXPECT_EQ(r.fields.size(), 3u);
    EXPECT_FALSE(o.records[2].error_kind);  // reading goes on
  }
}

TEST(CsvReader, InvalidUtf8BytesAreDeliveredAsTheyAre) {
  Outcome o = Read(
      "a\xFF"
      "b,c\n");
  ASSERT_EQ(o.records.size(), 1u);
  EXPECT_EQ(o.records[0].fields[0],
            "a\xFF"
            "b");
}

TEST(CsvReader, TruncatedUtf8AtEndOfFile) {
  Outcome o = Read("a\nx\xE2\x82");
  ASSERT_EQ(o.records.size(), 2u);
  EXPECT_EQ(o.records[1].error_kind, CsvRowErrorKind::kInvalidUtf8);
  EXPECT_EQ(o.records[1].error_offset, 3u);
  EXPECT_EQ(o.records[1].fields[0], "x\xE2\x82");
}

TEST(CsvReader, OnlyTheFirstRowErrorIsReported) {
  Outcome o = Read("\"a\"b,\xFF\n");
  ASSERT_EQ(o.records.size(), 1u);
  EXPECT_EQ(o.records[0].error_kind, CsvRowErrorKind::kTextAfterClosingQuote);
  EXPECT_EQ(o.records[0].error_column, 1);
}

TEST(CsvReader, BlankLinesAreSkipped) {
  Outcome o = Read("a,b\n\n1,2\r\n\r\n\r3,4\n\n");
  ASSERT_EQ(o.code, Code::kOk) << o.message;
  EXPECT_EQ(Fields(o), (Rows{{"a", "b"}, {"1", "2"}, {"3", "4"}}));
  EXPECT_EQ(o.records[1].line, 3);
  EXPECT_EQ(o.records[1].index, 1);
  EXPECT_EQ(o.records[2].line, 6);
  EXPECT_EQ(o.records[2].index, 2);
  EXPECT_EQ(o.records[2].offset, 13u);
}

TEST(CsvReader, WhitespaceLineIsARecord) {
  EXPECT_EQ(Fields(Read("a\n \n")), (Rows{{"a"}, {" "}}));
}

TEST(CsvReader, TrailingDelimiterMeansAnEmptyLastField) {
  EXPECT_EQ(Fields(Read("a,b,\n1,2,\r\n3,4,")), (Rows{{"a", "b", ""}, {"1", "2", ""}, {"3", "4", ""}}));
  EXPECT_EQ(Fields(Read("a,b\n,\n")), (Rows{{"a", "b"}, {"", ""}}));
  EXPECT_EQ(Fields(Read("a,b\n\"x\",")), (Rows{{"a", "b"}, {"x", ""}}));
}

// ---------------------------------------------------------------------------------------------
// File-level errors and the end of input.

TEST(CsvReader, EmptyFile) {
  Outcome o = Read("");
  EXPECT_EQ(o.code, Code::kInvalidArgument);
  EXPECT_EQ(o.message, "the file is empty");
  EXPECT_EQ(ReadPieces({}).message, "the file is empty");
  EXPECT_EQ(Read("\xEF\xBB\xBF").message, "the file is empty");
}

TEST(CsvReader, FileWithOnlyBlankLines) {
  Outcome o = Read("\n\r\n\r");
  EXPECT_EQ(o.code, Code::kInvalidArgument);
  EXPECT_EQ(o.message, "the file has only blank lines, no header");
}

TEST(CsvReader, OnlyHeaderIsNotAnErrorHere) {
  Outcome o = Read("email,name\r\n");
  ASSERT_EQ(o.code, Code::kOk) << o.message;
  ASSERT_EQ(o.records.size(), 1u);
  EXPECT_EQ(o.records[0].index, 0);
  EXPECT_EQ(Read("email,name").code, Code::kOk);
}

TEST(CsvReader, UnclosedQuoteIsAFileErrorNamingTheLineOfTheQuote) {
  Outcome o = Read("a,b\n1,2\n3,\"x\ny\n\nz\n");
  EXPECT_EQ(o.code, Code::kInvalidArgument);
  EXPECT_EQ(o.message, "line 3: quoted field is never closed");
  EXPECT_EQ(Fields(o), (Rows{{"a", "b"}, {"1", "2"}}));  // earlier records were delivered
  Outcome later = Read("a\n\"x\ny\",\"\n");
  EXPECT_EQ(later.message, "line 3: quoted field is never closed");
}

TEST(CsvReader, RecordLongerThanMaxIsAFileError) {
  CsvReaderOptions options;
  options.max_record_bytes = 10;
  Outcome ok = Read("a\n123456789\n", options);  // 10 bytes with its LF
  EXPECT_EQ(ok.code, Code::kOk) << ok.message;
  Outcome o = Read("a\n1234567890\nb\n", options);
  EXPECT_EQ(o.code, Code::kInvalidArgument);
  EXPECT_EQ(o.message, "line 2: record exceeds 10 bytes (unbalanced quote?)");
  EXPECT_EQ(Fields(o), (Rows{{"a"}}));
  EXPECT_EQ(ReadBytewise("a\n1234567890\nb\n", options), o);
}

TEST(CsvReader, UnbalancedQuoteStopsAtMaxBytesNotAtEndOfFile) {
  CsvReaderOptions options;
  options.max_record_bytes = 64;
  CsvReader reader(options);
  int records = 0;
  auto count = [&](const CsvRecord&) { ++records; };
  ASSERT_OK(reader.Feed("h\n\"never closed\n", count));
  Status st;
  std::string line(10, 'x');
  line += '\n';
  int fed = 0;
  while (st.ok() && fed < 100) {
    st = reader.Feed(line, count);
    ++fed;
  }
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_EQ(st.message(), "line 2: record exceeds 64 bytes (unbalanced quote?)");
  EXPECT_LT(fed, 10);
  EXPECT_EQ(records, 1);
  // The error sticks.
  EXPECT_EQ(reader.Feed("x\n", count).message(), st.message());
  EXPECT_EQ(reader.Finish(count).message(), st.message());
}

TEST(CsvReader, DefaultMaxRecordBytesIsOneMebibyte) {
  std::string input = "a\n\"" + std::string(kDefaultMaxRecordBytes, 'x') + "\"\n";
  Outcome o = Read(input);
  EXPECT_EQ(o.message, "line 2: record exceeds 1048576 bytes (unbalanced quote?)");
  std::string fits = "a\n" + std::string(kDefaultMaxRecordBytes - 1, 'x') + "\n";
  EXPECT_EQ(Read(fits).code, Code::kOk);
}

TEST(CsvReader, LongRecordsAcrossManyChunks) {
  std::string big(300000, 'y');
  std::string input = "a,b\n\"" + big + "\"\"\n\",z\n";
  std::vector<std::string_view> pieces;
  for (size_t i = 0; i < input.size(); i += 1000) pieces.push_back(std::string_view(input).substr(i, 1000));
  Outcome o = ReadPieces(pieces);
  ASSERT_EQ(o.code, Code::kOk) << o.message;
  ASSERT_EQ(o.records.size(), 2u);
  EXPECT_EQ(o.records[1].fields[0], big + "\"\n");
  EXPECT_EQ(o.records[1].fields[1], "z");
}

TEST(CsvReader, HeaderLongerThanMaxIsAFileErrorWhateverTheDelimiterDetection) {
  CsvReaderOptions options;
  options.max_record_bytes = 16;
  std::string input = "aaaa;bbbb;cccc;dddd;eeee\n1;2\n";
  Outcome o = Read(input, options);
  EXPECT_EQ(o.message, "line 1: record exceeds 16 bytes (unbalanced quote?)");
  EXPECT_TRUE(o.records.empty());
  EXPECT_EQ(ReadBytewise(input, options), o);
}

TEST(CsvReader, FeedAfterFinishIsAPreconditionError) {
  CsvReader reader;
  auto ignore = [](const CsvRecord&) {};
  ASSERT_OK(reader.Feed("a\n", ignore));
  ASSERT_OK(reader.Finish(ignore));
  EXPECT_EQ(reader.Feed("b\n", ignore).code(), Code::kFailedPrecondition);
  EXPECT_EQ(reader.Finish(ignore).code(), Code::kFailedPrecondition);
}

TEST(CsvReader, RecordsDeliveredCountsAndDelimiterIsKnownAfterTheHeader) {
  CsvReader reader;
  auto ignore = [](const CsvRecord&) {};
  ASSERT_OK(reader.Feed("a;b", ignore));
  EXPECT_EQ(reader.delimiter(), kDetectDelimiter);  // the header line has not ended yet
  ASSERT_OK(reader.Feed(";c\n1;2;3\n", ignore));
  EXPECT_EQ(reader.delimiter(), ';');
  EXPECT_EQ(reader.records_delivered(), 2);
}

// ---------------------------------------------------------------------------------------------
// Chunk boundaries: the result never depends on where the input is cut.

TEST(CsvReader, EverySplitPositionGivesTheSameResult) {
  for (const std::string& input : Corpus()) {
    Outcome whole = Read(input);
    for (size_t cut = 0; cut <= input.size(); ++cut) {
      ASSERT_EQ(ReadSplit(input, {cut}), whole) << ::testing::PrintToString(input) << " cut at " << cut;
    }
  }
}

TEST(CsvReader, EveryPairOfSplitPositionsGivesTheSameResult) {
  for (const std::string& input : Corpus()) {
    Outcome whole = Read(input);
    for (size_t a = 0; a <= input.size(); ++a) {
      for (size_t b = a; b <= input.size(); ++b) {
        ASSERT_EQ(ReadSplit(input, {a, b}), whole) << ::testing::PrintToString(input) << " cut at " << a << ", " << b;
      }
    }
  }
}

TEST(CsvReader, OneByteAtATimeGivesTheSameResult) {
  for (const std::string& input : Corpus()) {
    ASSERT_EQ(ReadBytewise(input), Read(input)) << ::testing::PrintToString(input);
  }
}

TEST(CsvReader, CorpusOutcomesAreAsExpected) {
  // Pin a few corpus results so the split tests compare against something known.
  const auto& c = Corpus();
  Outcome crlf = Read(c[1]);
  ASSERT_EQ(crlf.code, Code::kOk) << crlf.message;
  EXPECT_EQ(Fields(crlf), (Rows{{"name", "email"}, {"Ad\xC3\xA9le", "a@x.fr"}, {"Zo\xC3\xAB", "z;1"}}));
  EXPECT_EQ(crlf.records[2].line, 4);
  Outcome open = Read(c[5]);
  EXPECT_EQ(open.message, "line 2: quoted field is never closed");
  Outcome mixed = Read(c[2]);
  ASSERT_EQ(mixed.code, Code::kOk) << mixed.message;
  EXPECT_EQ(Fields(mixed), (Rows{{"a", "b"}, {"x\r\ny", "q\"r"}, {"c", "\xF0\x9F\x98\x80"}}));
  EXPECT_EQ(mixed.records[2].line, 5);
}

// Random inputs over an alphabet of the characters that matter: the streaming reader must
// agree with the reference parser, and with itself fed in random pieces.
TEST(CsvReader, RandomInputsMatchTheReferenceParserAndAnySplit) {
  const std::string alphabet[] = {"a",
                                  "b",
                                  ",",
                                  ",",
                                  "\"",
                                  "\"",
                                  "\n",
                                  "\r",
                                  "\r\n",
                                  ";",
                                  "\t",
                                  " ",
                                  "\xC3\xA9",
                                  "\xE2\x82\xAC",
                                  "\xF0\x9F\x98\x80",
                                  "\xC3",
                                  "\x80",
                                  "\xFF",
                                  "\xED\xA0\x80"};
  std::mt19937 rng(20240611);
  CsvReaderOptions options;
  options.delimiter = ',';
  for (int iter = 0; iter < 4000; ++iter) {
    std::string input;
    int len = std::uniform_int_distribution<int>(0, 40)(rng);
    for (int i = 0; i < len; ++i)
      input += alphabet[std::uniform_int_distribution<size_t>(0, std::size(alphabet) - 1)(rng)];
    Outcome whole = Read(input, options);
    ASSERT_EQ(whole, Reference(input, ',')) << ::testing::PrintToString(input);
    std::vector<size_t> cuts;
    for (size_t i = 0; i < input.size(); ++i) {
      if (rng() % 3 == 0) cuts.push_back(i);
    }
    ASSERT_EQ(ReadSplit(input, cuts, options), whole) << ::testing::PrintToString(input);
    // And with the delimiter detected.
    ASSERT_EQ(ReadSplit(input, cuts), Read(input)) << ::testing::PrintToString(input);
  }
}

// ---------------------------------------------------------------------------------------------
// Resume.

TEST(CsvReader, ResumingAtAnyRecordEndGivesTheRemainingRecords) {
  for (const std::string& input : Corpus()) {
    Outcome whole = Read(input);
    for (size_t i = 0; i < whole.records.size(); ++i) {
      const Rec& r = whole.records[i];
      if (r.end_offset == input.size()) continue;  // nothing left to resume
      CsvReaderOptions options;
      options.delimiter = whole.delimiter;
      options.start_offset = r.end_offset;
      options.start_line = r.end_line;
      options.start_index = r.index + 1;
      Outcome rest = Read(std::string_view(input).substr(r.end_offset), options);
      Outcome expected = whole;
      expected.records.erase(expected.records.begin(), expected.records.begin() + static_cast<ptrdiff_t>(i) + 1);
      ASSERT_EQ(rest, expected) << ::testing::PrintToString(input) << " resumed after record " << i;
      ASSERT_EQ(ReadBytewise(std::string_view(input).substr(r.end_offset), options), expected);
    }
  }
}

TEST(CsvReader, ResumeWithNothingLeftIsOk) {
  CsvReaderOptions options;
  options.delimiter = ',';
  options.start_offset = 100;
  options.start_line = 7;
  options.start_index = 5;
  Outcome o = Read("", options);
  EXPECT_EQ(o.code, Code::kOk) << o.message;
  EXPECT_TRUE(o.records.empty());
  Outcome blank = Read("\n\n", options);
  EXPECT_EQ(blank.code, Code::kOk) << blank.message;
}

TEST(CsvReader, ResumeNeedsADelimiterAndAnIndex) {
  CsvReaderOptions options;
  options.start_offset = 10;
  options.start_line = 2;
  options.start_index = 1;
  Outcome o = Read("a,b\n", options);
  EXPECT_EQ(o.code, Code::kInvalidArgument);
  EXPECT_THAT(o.message, HasSubstr("needs the delimiter"));
  options.delimiter = ',';
  options.start_index = 0;
  EXPECT_EQ(Read("a,b\n", options).code, Code::kInvalidArgument);
  CsvReaderOptions no_offset;
  no_offset.start_index = 3;
  EXPECT_EQ(Read("a,b\n", no_offset).code, Code::kInvalidArgument);
}

TEST(CsvReader, ResumeDoesNotStripABomOrExpectAHeader) {
  CsvReaderOptions options;
  options.delimiter = ',';
  options.start_offset = 50;
  options.start_line = 4;
  options.start_index = 3;
  Outcome o = Read("\xEF\xBB\xBFx,y\n", options);
  ASSERT_EQ(o.records.size(), 1u);
  EXPECT_EQ(o.records[0].fields[0], "\xEF\xBB\xBFx");
  EXPECT_EQ(o.records[0].offset, 50u);
  EXPECT_EQ(o.records[0].line, 4);
  EXPECT_EQ(o.records[0].index, 3);
}

// ---------------------------------------------------------------------------------------------
// Header and field count helpers.

CsvRecord MakeRecord(const std::vector<std::string_view>& fields, int64_t line = 1) {
  CsvRecord r;
  r.fields = fields;
  r.line = line;
  return r;
}

TEST(ParseHeader, TrimsKeepsOriginalAndNormalisesKeys) {
  std::vector<std::string_view> f = {" E-mail Address ", "First Name", "phone\t", "ZIP-Code"};
  ASSERT_OK_AND_ASSIGN(CsvHeader h, ParseHeader(MakeRecord(f)));
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(h.columns[0].original, " E-mail Address ");
  EXPECT_EQ(h.columns[0].name, "E-mail Address");
  EXPECT_EQ(h.columns[0].key, "e_mail_address");
  EXPECT_EQ(h.columns[1].key, "first_name");
  EXPECT_EQ(h.columns[2].name, "phone");
  EXPECT_EQ(h.columns[3].key, "zip_code");
  EXPECT_EQ(h.Find("first_name"), 1u);
  EXPECT_EQ(h.Find("email"), std::nullopt);
  EXPECT_EQ(NormaliseHeaderKey("  Last-Name "), "last_name");
}

TEST(ParseHeader, RejectsEmptyNames) {
  std::vector<std::string_view> one = {"a", "  ", "b"};
  Result<CsvHeader> r = ParseHeader(MakeRecord(one));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "line 1: header column 2 is empty");
  std::vector<std::string_view> three = {"", "a", "", "b", ""};
  EXPECT_EQ(ParseHeader(MakeRecord(three)).status().message(), "line 1: header columns 1, 3 and 5 are empty");
}

TEST(ParseHeader, RejectsDuplicatesAfterNormalisation) {
  std::vector<std::string_view> f = {"Email", "First Name", "email ", "first-name", "x", "FIRST_NAME"};
  Result<CsvHeader> r = ParseHeader(MakeRecord(f, 3));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "line 3: header columns 1 and 3 are both \"email\"; header columns 2, 4 and 6 are all \"first_name\"");
}

TEST(ParseHeader, ReportsEmptyAndDuplicateTogether) {
  std::vector<std::string_view> f = {"a", "", "A"};
  EXPECT_EQ(ParseHeader(MakeRecord(f)).status().message(),
            "line 1: header column 2 is empty; header columns 1 and 3 are both \"a\"");
}

TEST(ParseHeader, RejectsAHeaderWithARowError) {
  CsvReader reader;
  Status header_status;
  ASSERT_OK(reader.Feed("a,\xFF\n", [&](const CsvRecord& r) { header_status = ParseHeader(r).status(); }));
  EXPECT_EQ(header_status.code(), Code::kInvalidArgument);
  EXPECT_EQ(header_status.message(), "header: line 1, column 2: invalid UTF-8 at byte offset 2");
}

TEST(ParseHeader, FromARealFirstRecord) {
  CsvReader reader;
  std::optional<Result<CsvHeader>> header;
  ASSERT_OK(
      reader.Feed("\xEF\xBB\xBF"
                  "Email;First Name\n",
                  [&](const CsvRecord& r) { header = ParseHeader(r); }));
  ASSERT_TRUE(header.has_value());
  ASSERT_OK(*header);
  EXPECT_EQ((*header)->columns[0].key, "email");
  EXPECT_EQ((*header)->columns[1].key, "first_name");
}

TEST(CheckFieldCount, FlagsRaggedRows) {
  std::vector<std::string_view> hf = {"a", "b", "c"};
  ASSERT_OK_AND_ASSIGN(CsvHeader h, ParseHeader(MakeRecord(hf)));
  std::vector<std::string_view> ok = {"1", "2", "3"};
  EXPECT_OK(CheckFieldCount(MakeRecord(ok, 2), h));
  std::vector<std::string_view> short_row = {"1", "2"};
  Status st = CheckFieldCount(MakeRecord(short_row, 12), h);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_EQ(st.message(), "line 12: 2 fields, the header has 3");
  std::vector<std::string_view> one = {"1"};
  EXPECT_EQ(CheckFieldCount(MakeRecord(one, 4), h).message(), "line 4: 1 field, the header has 3");
  std::vector<std::string_view> long_row = {"1", "2", "3", ""};
  EXPECT_EQ(CheckFieldCount(MakeRecord(long_row, 5), h).message(), "line 5: 4 fields, the header has 3");
}

}  // namespace
}  // namespace outflow
