#include "crypto/secret_box.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>

namespace outflow {

namespace {

constexpr size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;  // 24
constexpr size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;       // 16
constexpr size_t kHexKeyChars = 2 * SecretBox::kKeyBytes;                     // 64
constexpr std::string_view kPrefix = "v1:";
// Longer than any valid key file (kMaxKeys lines of "64 hex + \r\n"), so a longer
// file is reported by size.
constexpr size_t kMaxKeyFileBytes = SecretBox::kMaxKeys * (kHexKeyChars + 2);

static_assert(SecretBox::kKeyBytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);

Status EnsureSodium() {
  static std::once_flag once;
  static int rc = -1;
  std::call_once(once, [] { rc = sodium_init(); });  // 0: initialised now, 1: already
  if (rc < 0) return Status::Internal("libsodium could not be initialised");
  return Status::Ok();
}

// libsodium wants non-null pointers for message bytes even when empty.
const unsigned char* Bytes(std::string_view s) {
  static const unsigned char kEmpty = 0;
  return s.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(s.data());
}

std::string Quote(const std::string& path) {
  return "'" + path + "'";
}

std::string ErrnoText(int err) {
  return std::strerror(err);
}

// Wipes a stack buffer that held key material when the scope ends.
template <size_t N>
struct WipedBuffer {
  std::array<unsigned char, N> bytes{};
  ~WipedBuffer() { sodium_memzero(bytes.data(), bytes.size()); }
};

// Decodes exactly 64 hex characters into `out`. Returns the offset of the first
// character that is not hexadecimal, or -1 on success.
long DecodeHexKey(std::string_view hex, unsigned char* out) {
  size_t bin_len = 0;
  const char* end = nullptr;
  int rc = sodium_hex2bin(out, SecretBox::kKeyBytes, hex.data(), hex.size(), nullptr, &bin_len, &end);
  if (rc == 0 && end == hex.data() + hex.size() && bin_len == SecretBox::kKeyBytes) return -1;
  return end == nullptr ? 0 : static_cast<long>(end - hex.data());
}

bool DecodeBase64Key(std::string_view b64, unsigned char* out) {
  for (int variant : {sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
                      sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING}) {
    size_t bin_len = 0;
    if (sodium_base642bin(out, SecretBox::kKeyBytes, b64.data(), b64.size(), nullptr, &bin_len, nullptr, variant) ==
            0 &&
        bin_len == SecretBox::kKeyBytes) {
      return true;
    }
  }
  return false;
}

std::string_view TrimSpace(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

std::string ModeText(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

Status WriteAll(int fd, const unsigned char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Unavailable(ErrnoText(errno));
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

// fsyncs the directory of `path`, so that a new directory entry survives a power cut.
Status SyncDirectoryOf(const std::string& path, std::string_view done) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Status::Ok();
  int rc = ::fsync(dfd);
  int err = errno;
  ::close(dfd);
  if (rc != 0 && err != EINVAL) {
    return Status::Unavailable("key file " + Quote(path) + " was " + std::string(done) +
                               " but its directory could not be synced: " + ErrnoText(err));
  }
  return Status::Ok();
}

}  // namespace

void SecretBox::KeyDeleter::operator()(unsigned char* p) const {
  sodium_free(p);  // makes the pages writable again, zeroes them and frees them
}

// Where a key file stood when it was read: a rotation replaces it (a new inode).
struct FileStamp {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

FileStamp StampOf(const struct stat& st) {
  return {st.st_dev, st.st_ino, st.st_size, int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec};
}

struct SecretBox::Ring {
  mutable std::mutex mu;
  std::shared_ptr<const Keys> keys;               // GUARDED_BY(mu)
  std::string path;                               // the key file; empty when the keys came from elsewhere
  FileStamp stamp;                                // GUARDED_BY(mu)
  std::chrono::steady_clock::time_point checked;  // GUARDED_BY(mu): the last look at the file
};

SecretBox::SecretBox(std::unique_ptr<Ring> ring) : ring_(std::move(ring)) {}
SecretBox::SecretBox(SecretBox&&) noexcept = default;
SecretBox& SecretBox::operator=(SecretBox&&) noexcept = default;
SecretBox::~SecretBox() = default;

Result<SecretBox::KeyPtr> SecretBox::CopyKey(const unsigned char* bytes) {
  OUTFLOW_RETURN_IF_ERROR(EnsureSodium());
  auto* p = static_cast<unsigned char*>(sodium_malloc(kKeyBytes));
  if (p == nullptr) return Status::Internal("cannot allocate protected memory for the secret key");
  std::memcpy(p, bytes, kKeyBytes);
  sodium_mprotect_readonly(p);
  return KeyPtr(p);
}

Result<SecretBox> SecretBox::FromBytes(const unsigned char* bytes) {
  OUTFLOW_ASSIGN_OR_RETURN(KeyPtr key, CopyKey(bytes));
  auto keys = std::make_shared<Keys>();
  keys->push_back(std::move(key));
  auto ring = std::make_unique<Ring>();
  ring->keys = std::move(keys);
  return SecretBox(std::move(ring));
}

namespace {

struct KeyFile {
  std::vector<WipedBuffer<SecretBox::kKeyBytes>> keys;
  FileStamp stamp;
};

// One line of a key file: 64 hex characters. `where` names it in errors.
Status ParseKeyLine(std::string_view line, const std::string& where, size_t file_size, bool only_line,
                    unsigned char* out) {
  if (line.size() != kHexKeyChars) {
    if (only_line) {
      return Status::InvalidArgument(where + " holds " + std::to_string(file_size) +
                                     " bytes; expected 32 raw bytes or 64 hex characters and an optional newline");
    }
    return Status::InvalidArgument(
        where + (line.empty() ? " is empty"
                              : " holds " + std::to_string(line.size()) + " characters; expected 64 hex characters"));
  }
  long bad = DecodeHexKey(line, out);
  if (bad >= 0) {
    return Status::InvalidArgument(where + " holds 64 characters but they are not hexadecimal (at offset " +
                                   std::to_string(bad) + ")");
  }
  return Status::Ok();
}

// The keys in a key file's bytes: 32 raw bytes, or lines of hex (see the header).
Status ParseKeyFile(std::string_view text, const std::string& path, KeyFile& out) {
  const std::string name = "key file " + Quote(path);
  if (text.size() == SecretBox::kKeyBytes) {
    // 32 hex digits are a 16-byte key written as hex, not 32 raw bytes (a random raw
    // key is all hex digits with a chance of about 1e-34).
    if (text.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos) {
      return Status::InvalidArgument(name +
                                     " holds 32 hex characters, a 16-byte key; expected 64 hex characters (32 bytes)");
    }
    std::memcpy(out.keys.emplace_back().bytes.data(), text.data(), SecretBox::kKeyBytes);
    return Status::Ok();
  }
  std::vector<std::string_view> lines;
  for (std::string_view rest = text; !rest.empty() || lines.empty();) {
    const size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    if (!line.empty() && line.back() == '\r' && nl != std::string_view::npos) line.remove_suffix(1);
    lines.push_back(line);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  }
  if (lines.size() > SecretBox::kMaxKeys) {
    return Status::InvalidArgument(name + " holds more than " + std::to_string(SecretBox::kMaxKeys) + " keys");
  }
  for (size_t i = 0; i < lines.size(); ++i) {
    const bool only = lines.size() == 1;
    const std::string where = only ? name : name + " line " + std::to_string(i + 1);
    OUTFLOW_RETURN_IF_ERROR(ParseKeyLine(lines[i], where, text.size(), only, out.keys.emplace_back().bytes.data()));
  }
  return Status::Ok();
}

// Reads and checks a key file (see FromKeyFile for the errors).
Status ReadKeyFile(const std::string& path, KeyFile& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return Status::NotFound("key file " + Quote(path) + " does not exist");
    return Status::FailedPrecondition("cannot open key file " + Quote(path) + ": " + ErrnoText(err));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};

  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return Status::FailedPrecondition("cannot stat key file " + Quote(path) + ": " + ErrnoText(errno));
  }
  if (!S_ISREG(st.st_mode)) return Status::FailedPrecondition("key file " + Quote(path) + " is not a regular file");
  if ((st.st_mode & 077) != 0) {
    return Status::FailedPrecondition("key file " + Quote(path) + " has permissions " + ModeText(st.st_mode) +
                                      ", which are too open: it must not be accessible by group or others (chmod 600 " +
                                      Quote(path) + ")");
  }
  out.stamp = StampOf(st);

  WipedBuffer<kMaxKeyFileBytes + 1> buf;
  size_t size = 0;
  while (size < buf.bytes.size()) {
    ssize_t n = ::read(fd, buf.bytes.data() + size, buf.bytes.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FailedPrecondition("cannot read key file " + Quote(path) + ": " + ErrnoText(errno));
    if (n == 0) break;
    size += static_cast<size_t>(n);
  }
  if (size > kMaxKeyFileBytes) {
    return Status::InvalidArgument("key file " + Quote(path) + " holds more than " + std::to_string(kMaxKeyFileBytes) +
                                   " bytes; expected 32 raw bytes or lines of 64 hex characters");
  }
  return ParseKeyFile(std::string_view(reinterpret_cast<const char*>(buf.bytes.data()), size), path, out);
}

}  // namespace

Result<SecretBox> SecretBox::FromKeyFile(const std::string& path) {
  OUTFLOW_RETURN_IF_ERROR(EnsureSodium());
  KeyFile file;
  OUTFLOW_RETURN_IF_ERROR(ReadKeyFile(path, file));
  auto keys = std::make_shared<Keys>();
  for (const auto& k : file.keys) {
    OUTFLOW_ASSIGN_OR_RETURN(KeyPtr key, CopyKey(k.bytes.data()));
    keys->push_back(std::move(key));
  }
  auto ring = std::make_unique<Ring>();
  ring->keys = std::move(keys);
  ring->path = path;
  ring->stamp = file.stamp;
  ring->checked = std::chrono::steady_clock::now();
  return SecretBox(std::move(ring));
}

std::shared_ptr<const SecretBox::Keys> SecretBox::keys() const {
  std::lock_guard lock(ring_->mu);
  return ring_->keys;
}

bool SecretBox::Refresh(bool now) const {
  Ring& r = *ring_;
  if (r.path.empty()) return false;
  std::lock_guard lock(r.mu);
  const auto t = std::chrono::steady_clock::now();
  if (!now && t - r.checked < std::chrono::seconds(1)) return false;
  r.checked = t;
  struct stat st {};
  if (::stat(r.path.c_str(), &st) != 0 || StampOf(st) == r.stamp) return false;
  Result<SecretBox> fresh = FromKeyFile(r.path);
  if (!fresh.ok()) return false;  // a bad file: keep the keys we have
  r.keys = fresh->keys();
  r.stamp = fresh->ring_->stamp;
  return true;
}

Result<SecretBox> SecretBox::FromEnvValue(std::string_view value, std::string_view var_name) {
  OUTFLOW_RETURN_IF_ERROR(EnsureSodium());
  std::string_view text = TrimSpace(value);
  WipedBuffer<kKeyBytes> key;
  if (text.size() == kHexKeyChars) {
    if (DecodeHexKey(text, key.bytes.data()) < 0) return FromBytes(key.bytes.data());
  } else if (DecodeBase64Key(text, key.bytes.data())) {
    return FromBytes(key.bytes.data());
  }
  return Status::InvalidArgument(std::string(var_name) +
                                 ": expected 64 hex characters or the base64 of 32 bytes, got " +
                                 std::to_string(text.size()) + " characters that are neither");
}

Status SecretBox::GenerateKeyFile(const std::string& path) {
  OUTFLOW_RETURN_IF_ERROR(EnsureSodium());
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    return Status::Conflict("key file " + Quote(path) + " already exists; refusing to overwrite it");
  }

  // Write a temporary file beside the target, then link it into place: link() fails
  // with EEXIST rather than replace, and the target never holds half a key.
  std::string tmp = path + ".tmp-XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);  // creates with mode 0600
  if (fd < 0) return Status::FailedPrecondition("cannot create key file " + Quote(path) + ": " + ErrnoText(errno));
  auto fail = [&](const std::string& what) {
    ::unlink(tmp.c_str());
    return Status::FailedPrecondition("cannot create key file " + Quote(path) + ": " + what);
  };

  WipedBuffer<kKeyBytes> key;
  WipedBuffer<kHexKeyChars + 2> hex;  // 64 hex, '\n', and sodium_bin2hex's NUL
  randombytes_buf(key.bytes.data(), key.bytes.size());
  sodium_bin2hex(reinterpret_cast<char*>(hex.bytes.data()), hex.bytes.size(), key.bytes.data(), key.bytes.size());
  hex.bytes[kHexKeyChars] = '\n';
  Status written = WriteAll(fd, hex.bytes.data(), kHexKeyChars + 1);
  bool synced = written.ok() && ::fchmod(fd, 0600) == 0 && ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!written.ok()) return fail(written.message());
  if (!synced) return fail(ErrnoText(err));

  if (::link(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    ::unlink(tmp.c_str());
    if (err == EEXIST) return Status::Conflict("key file " + Quote(path) + " already exists; refusing to overwrite it");
    return Status::FailedPrecondition("cannot create key file " + Quote(path) + ": " + ErrnoText(err));
  }
  ::unlink(tmp.c_str());

  // Make the new directory entry durable: data sealed with a key that a power cut
  // loses could never be opened again.
  return SyncDirectoryOf(path, "created");
}

Result<SecretBox> SecretBox::RotateKeyFile(const std::string& path) {
  OUTFLOW_RETURN_IF_ERROR(EnsureSodium());
  KeyFile old;
  OUTFLOW_RETURN_IF_ERROR(ReadKeyFile(path, old));
  std::vector<WipedBuffer<kHexKeyChars + 2>> lines(std::min(old.keys.size() + 1, kMaxKeys));
  WipedBuffer<kKeyBytes> fresh;
  randombytes_buf(fresh.bytes.data(), fresh.bytes.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    const unsigned char* key = i == 0 ? fresh.bytes.data() : old.keys[i - 1].bytes.data();
    sodium_bin2hex(reinterpret_cast<char*>(lines[i].bytes.data()), lines[i].bytes.size(), key, kKeyBytes);
    lines[i].bytes[kHexKeyChars] = '\n';
  }
  std::string tmp = path + ".tmp-XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);  // creates with mode 0600
  if (fd < 0) return Status::FailedPrecondition("cannot rotate key file " + Quote(path) + ": " + ErrnoText(errno));
  Status written = Status::Ok();
  for (const auto& line : lines) {
    if (written.ok()) written = WriteAll(fd, line.bytes.data(), kHexKeyChars + 1);
  }
  const bool synced = written.ok() && ::fchmod(fd, 0600) == 0 && ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!synced || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = !written.ok() ? written.message() : ErrnoText(synced ? errno : err);
    ::unlink(tmp.c_str());
    return Status::FailedPrecondition("cannot rotate key file " + Quote(path) + ": " + why);
  }
  OUTFLOW_RETURN_IF_ERROR(SyncDirectoryOf(path, "rotated"));
  return FromKeyFile(path);
}

std::string SecretBox::Seal(std::string_view plaintext, std::string_view associated_data) const {
  Refresh(false);
  const std::shared_ptr<const Keys> keys = this->keys();
  std::string raw(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  randombytes_buf(out, kNonceBytes);
  unsigned long long cipher_len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out + kNonceBytes, &cipher_len, Bytes(plaintext), plaintext.size(),
                                             Bytes(associated_data), associated_data.size(), nullptr, out,
                                             keys->front().get());
  std::string sealed(kPrefix);
  size_t b64_size = sodium_base64_ENCODED_LEN(raw.size(), sodium_base64_VARIANT_ORIGINAL);  // includes the NUL
  sealed.resize(kPrefix.size() + b64_size);
  sodium_bin2base64(sealed.data() + kPrefix.size(), b64_size, out, raw.size(), sodium_base64_VARIANT_ORIGINAL);
  sealed.resize(sealed.size() - 1);  // drop the NUL
  return sealed;
}

Result<std::string> SecretBox::Open(std::string_view sealed, std::string_view associated_data) const {
  if (sealed.substr(0, kPrefix.size()) != kPrefix) {
    size_t digits = 1;
    while (digits < sealed.size() && sealed[digits] >= '0' && sealed[digits] <= '9') ++digits;
    if (!sealed.empty() && sealed[0] == 'v' && digits > 1 && digits < sealed.size() && sealed[digits] == ':') {
      return Status::InvalidArgument("sealed value has format " + std::string(sealed.substr(0, digits)) +
                                     ", which this version cannot read (it reads v1)");
    }
    return Status::InvalidArgument("not a sealed value: expected 'v1:' followed by base64");
  }
  std::string_view b64 = sealed.substr(kPrefix.size());
  std::string raw(b64.size() / 4 * 3 + 3, '\0');
  size_t raw_len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(raw.data()), raw.size(), b64.data(), b64.size(), nullptr,
                        &raw_len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
    return Status::InvalidArgument("sealed value is not valid base64 after 'v1:'");
  }
  if (raw_len < kNonceBytes + kTagBytes) {
    return Status::InvalidArgument("sealed value is too short: " + std::to_string(raw_len) + " bytes, at least " +
                                   std::to_string(kNonceBytes + kTagBytes) + " expected");
  }
  const auto* in = reinterpret_cast<const unsigned char*>(raw.data());
  std::string plain(raw_len - kNonceBytes - kTagBytes, '\0');
  unsigned char spare = 0;  // libsodium wants a non-null output even for an empty plaintext
  unsigned char* plain_out = plain.empty() ? &spare : reinterpret_cast<unsigned char*>(plain.data());
  auto open_with_any = [&](const Keys& keys) {
    for (const KeyPtr& key : keys) {
      unsigned long long plain_len = 0;
      if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain_out, &plain_len, nullptr, in + kNonceBytes,
                                                     raw_len - kNonceBytes, Bytes(associated_data),
                                                     associated_data.size(), in, key.get()) == 0) {
        return true;
      }
    }
    return false;
  };
  // No key opens it: perhaps another process rotated the key file since we read it.
  if (open_with_any(*keys()) || (Refresh(true) && open_with_any(*keys()))) return plain;
  return Status::Corruption("sealed value cannot be decrypted: wrong key or damaged (this key's id is " + KeyId() +
                            ")");
}

namespace {

std::string TagWith(const unsigned char* key, std::string_view context, std::string_view message) {
  static_assert(crypto_kdf_CONTEXTBYTES == 8);
  char ctx[crypto_kdf_CONTEXTBYTES] = {};
  std::memcpy(ctx, context.data(), std::min(context.size(), sizeof ctx));
  std::array<unsigned char, crypto_generichash_KEYBYTES> subkey{};
  crypto_kdf_derive_from_key(subkey.data(), subkey.size(), 1, ctx, key);
  std::array<unsigned char, 16> mac{};
  crypto_generichash(mac.data(), mac.size(), reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                     subkey.data(), subkey.size());
  sodium_memzero(subkey.data(), subkey.size());
  char hex[2 * 16 + 1];
  sodium_bin2hex(hex, sizeof hex, mac.data(), mac.size());
  return hex;
}

std::string IdOf(const unsigned char* key) {
  std::array<unsigned char, crypto_generichash_BYTES> hash{};  // BLAKE2b-256
  crypto_generichash(hash.data(), hash.size(), key, SecretBox::kKeyBytes, nullptr, 0);
  char hex[9];
  sodium_bin2hex(hex, sizeof hex, hash.data(), 4);
  return hex;
}

}  // namespace

std::string SecretBox::Tag(std::string_view context, std::string_view message) const {
  Refresh(false);
  return TagWith(keys()->front().get(), context, message);
}

bool SecretBox::VerifyTag(std::string_view context, std::string_view message, std::string_view tag) const {
  auto any = [&](const Keys& keys) {
    for (const KeyPtr& key : keys) {
      const std::string expected = TagWith(key.get(), context, message);
      if (tag.size() == expected.size() && sodium_memcmp(tag.data(), expected.data(), expected.size()) == 0) {
        return true;
      }
    }
    return false;
  };
  return any(*keys()) || (Refresh(true) && any(*keys()));
}

std::string SecretBox::KeyId() const {
  return IdOf(keys()->front().get());
}

std::vector<std::string> SecretBox::KeyIds() const {
  std::vector<std::string> ids;
  for (const KeyPtr& key : *keys()) ids.push_back(IdOf(key.get()));
  return ids;
}

}  // namespace outflow
