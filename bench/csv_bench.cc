// csv_bench: throughput of the streaming CSV reader (src/ingest/csv_reader.h).
//
//   csv_bench [--rows N] [--runs N] [--chunk BYTES]   # defaults 1,000,000 rows, 3 runs, 65536
//   csv_bench --stream-mb N [--chunk BYTES]           # memory check, see below
//
// Generates a 12-column contact CSV in memory (id, email, first and last name with some
// non-ASCII, phone, company and street often quoted with commas, city, country, signup
// time, tags quoted with commas, notes some quoted with "" escapes), then per run feeds it
// to a fresh CsvReader in chunks. The callback does the per-record work an import does
// besides writing: ParseHeader on the header, CheckFieldCount and a read of every field.
// Prints MB/s and rows/s for each run and the median of each. Target: well above 1,000,000
// rows/s, so that parsing is a small share of a 200,000 rows/s import.
//
// --stream-mb N generates N MiB of the same rows on the fly, a chunk at a time, feeds it
// and prints the peak RSS (VmHWM) before and after: the reader's memory must stay flat.
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "ingest/csv_reader.h"

namespace outflow::bench {
namespace {

using Steady = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "csv_bench: %s\n", what.c_str());
  std::exit(1);
}

void CheckOk(const Status& st, const std::string& what) {
  if (!st.ok()) Die(what + ": " + st.ToString());
}

// splitmix64: fast and deterministic.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  size_t Below(size_t n) { return static_cast<size_t>(Next() % n); }
  bool Percent(int p) { return Below(100) < static_cast<size_t>(p); }
  template <size_t N>
  const char* Pick(const char* const (&items)[N]) {
    return items[Below(N)];
  }

 private:
  uint64_t s_;
};

constexpr const char* kFirst[] = {"Ada",   "Bob",  "Chloe",       "David",         "Emma",   "Fatima",   "George",
                                  "Hanna", "Ivan", "Jos\xC3\xA9", "Kenji",         "Lena",   "Mohammed", "Nora",
                                  "Oli",   "Pia",  "Zo\xC3\xAB",  "\xC5\x81ukasz", "Sophie", "Tom"};
constexpr const char* kLast[] = {"Smith",    "Jones",  "M\xC3\xBCller", "Garcia", "O'Brien", "Nguyen",    "Rossi",
                                 "Kowalski", "Dubois", "Tanaka",        "Silva",  "Brown",   "Johansson", "Patel"};
constexpr const char* kDomains[] = {"example.com", "mail.example.org", "corp.example.net", "inbox.example.co.uk"};
constexpr const char* kCompanies[] = {"Acme",  "Globex",           "Initech",           "Umbrella",
                                      "Hooli", "Stark Industries", "Wayne Enterprises", "Vandelay Industries"};
constexpr const char* kSuffixes[] = {", Inc.", ", Ltd.", " & Co., LLC", ", GmbH"};
constexpr const char* kStreets[] = {"High Street", "Main St", "Station Road", "Rue de la Paix",
                                    "Hauptstra\xC3\x9F"
                                    "e"};
constexpr const char* kCities[] = {"London", "Paris", "Berlin", "New York", "M\xC3\xBCnchen", "Madrid", "Tokyo"};
constexpr const char* kCountries[] = {"GB", "FR", "DE", "US", "ES", "JP", "IT", "NL"};
constexpr const char* kTags[] = {"vip", "newsletter", "trial", "churned", "b2b", "events"};
constexpr const char* kNotes[] = {"prefers email", "call after 5pm", "met at conference", "asked for a demo"};

constexpr const char* kHeader =
    "id,email,first_name,last_name,phone,company,street,city,country,signed_up_at,tags,notes\r\n";

void AppendRow(Rng& rng, uint64_t id, std::string& out) {
  char buf[64];
  const char* first = rng.Pick(kFirst);
  const char* last = rng.Pick(kLast);
  std::snprintf(buf, sizeof buf, "%" PRIu64 ",", id);
  out += buf;
  // email
  out += "user";
  std::snprintf(buf, sizeof buf, "%" PRIu64 ".%zu@", id, rng.Below(1000));
  out += buf;
  out += rng.Pick(kDomains);
  out += ',';
  out += first;
  out += ',';
  out += last;
  out += ',';
  std::snprintf(buf, sizeof buf, "+44 20 %04zu %04zu,", rng.Below(10000), rng.Below(10000));
  out += buf;
  // company: often with a comma, so quoted
  if (rng.Percent(30)) {
    out += '"';
    out += rng.Pick(kCompanies);
    out += rng.Pick(kSuffixes);
    out += "\",";
  } else {
    out += rng.Pick(kCompanies);
    out += ',';
  }
  // street: "12 High Street, Flat 3"
  if (rng.Percent(40)) {
    std::snprintf(buf, sizeof buf, "\"%zu %s, Flat %zu\",", rng.Below(300) + 1, rng.Pick(kStreets), rng.Below(20) + 1);
  } else {
    std::snprintf(buf, sizeof buf, "%zu %s,", rng.Below(300) + 1, rng.Pick(kStreets));
  }
  out += buf;
  out += rng.Pick(kCities);
  out += ',';
  out += rng.Pick(kCountries);
  out += ',';
  std::snprintf(buf, sizeof buf, "2024-%02zu-%02zuT%02zu:%02zu:%02zuZ,", rng.Below(12) + 1, rng.Below(28) + 1,
                rng.Below(24), rng.Below(60), rng.Below(60));
  out += buf;
  // tags: a quoted list or one tag
  if (rng.Percent(35)) {
    out += '"';
    out += rng.Pick(kTags);
    out += ',';
    out += rng.Pick(kTags);
    out += "\",";
  } else {
    out += rng.Pick(kTags);
    out += ',';
  }
  // notes: empty, plain, or quoted with "" escapes
  size_t kind = rng.Below(10);
  if (kind == 0) {
    out += "\"said \"\"";
    out += rng.Pick(kNotes);
    out += "\"\", follow up\"";
  } else if (kind < 4) {
    out += rng.Pick(kNotes);
  }
  out += "\r\n";
}

std::string Generate(uint64_t rows) {
  std::string out;
  out.reserve(rows * 150);
  out += kHeader;
  Rng rng(42);
  for (uint64_t i = 1; i <= rows; ++i) AppendRow(rng, i, out);
  return out;
}

// The per-record work of an import apart from writing.
struct Sink {
  std::optional<CsvHeader> header;
  uint64_t rows = 0;
  uint64_t ragged = 0;
  uint64_t row_errors = 0;
  uint64_t checksum = 0;

  void operator()(const CsvRecord& r) {
    if (r.index == 0) {
      Result<CsvHeader> h = ParseHeader(r);
      CheckOk(h.status(), "header");
      header = std::move(h).value();
      return;
    }
    ++rows;
    if (r.error) ++row_errors;
    if (!CheckFieldCount(r, *header).ok()) ++ragged;
    for (std::string_view f : r.fields) checksum += f.size() + (f.empty() ? 0 : static_cast<unsigned char>(f[0]));
  }
};

long PeakRssKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void RunThroughput(uint64_t rows, int runs, size_t chunk) {
  auto g0 = Steady::now();
  std::string csv = Generate(rows);
  double gen_s = std::chrono::duration<double>(Steady::now() - g0).count();
  std::printf("csv_bench: %" PRIu64
              " rows x 12 columns, %.1f MB (%.1f bytes/row), %zu-byte chunks, generated in %.2f s\n",
              rows, static_cast<double>(csv.size()) / 1e6,
              static_cast<double>(csv.size()) / static_cast<double>(rows + 1), chunk, gen_s);
  std::vector<double> mbps;
  std::vector<double> rps;
  for (int run = 1; run <= runs; ++run) {
    Sink sink;
    CsvReader reader;
    auto on_record = [&sink](const CsvRecord& r) { sink(r); };
    auto t0 = Steady::now();
    for (size_t pos = 0; pos < csv.size(); pos += chunk) {
      CheckOk(reader.Feed(std::string_view(csv).substr(pos, chunk), on_record), "feed");
    }
    CheckOk(reader.Finish(on_record), "finish");
    double s = std::chrono::duration<double>(Steady::now() - t0).count();
    if (sink.rows != rows || sink.ragged != 0 || sink.row_errors != 0) {
      Die("unexpected result: " + std::to_string(sink.rows) + " rows, " + std::to_string(sink.ragged) + " ragged, " +
          std::to_string(sink.row_errors) + " row errors");
    }
    mbps.push_back(static_cast<double>(csv.size()) / 1e6 / s);
    rps.push_back(static_cast<double>(rows) / s);
    std::printf("run %d: %.3f s, %.0f MB/s, %.0f rows/s (checksum %" PRIu64 ")\n", run, s, mbps.back(), rps.back(),
                sink.checksum);
  }
  std::printf("median: %.0f MB/s, %.0f rows/s\n", Median(mbps), Median(rps));
}

void RunStream(uint64_t mib, size_t chunk) {
  long rss_before = PeakRssKb();
  const uint64_t total = mib * 1024 * 1024;
  Sink sink;
  CsvReader reader;
  auto on_record = [&sink](const CsvRecord& r) { sink(r); };
  Rng rng(7);
  std::string buf = kHeader;
  uint64_t fed = 0;
  uint64_t id = 0;
  auto t0 = Steady::now();
  while (fed < total) {
    while (buf.size() < chunk) AppendRow(rng, ++id, buf);
    CheckOk(reader.Feed(std::string_view(buf).substr(0, chunk), on_record), "feed");
    fed += chunk;
    buf.erase(0, chunk);  // the tail of a row stays for the next chunk
  }
  CheckOk(reader.Feed(buf, on_record), "feed");
  CheckOk(reader.Finish(on_record), "finish");
  double s = std::chrono::duration<double>(Steady::now() - t0).count();
  std::printf("stream: %.0f MiB, %" PRIu64
              " rows in %.2f s (generation included), peak RSS %ld kB before, %ld kB after\n",
              static_cast<double>(fed + buf.size()) / 1048576.0, sink.rows, s, rss_before, PeakRssKb());
}

}  // namespace
}  // namespace outflow::bench

int main(int argc, char** argv) {
  using namespace outflow::bench;
  uint64_t rows = 1'000'000;
  int runs = 3;
  size_t chunk = 64 * 1024;
  uint64_t stream_mb = 0;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) Die("missing value for " + std::string(a));
      return argv[++i];
    };
    if (a == "--rows") {
      rows = std::strtoull(next(), nullptr, 10);
    } else if (a == "--runs") {
      runs = std::atoi(next());
    } else if (a == "--chunk") {
      chunk = std::strtoull(next(), nullptr, 10);
    } else if (a == "--stream-mb") {
      stream_mb = std::strtoull(next(), nullptr, 10);
    } else {
      Die("unknown argument " + std::string(a) + " (see the comment at the top of bench/csv_bench.cc)");
    }
  }
  if (rows == 0 || runs <= 0 || chunk == 0) Die("--rows, --runs and --chunk must be positive");
  if (stream_mb > 0) {
    RunStream(stream_mb, chunk);
  } else {
    RunThroughput(rows, runs, chunk);
  }
  return 0;
}
