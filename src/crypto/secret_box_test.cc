#include "crypto/secret_box.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>
#include <vector>

#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace outflow {
namespace {

namespace fs = std::filesystem;

constexpr const char* kHexKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
// The same 32 bytes in base64 (standard, padded) and URL-safe without padding.
constexpr const char* kBase64Key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
constexpr const char* kBase64UrlKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
constexpr const char* kOtherHexKey = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

void WriteFile(const std::string& path, std::string_view content,
               fs::perms mode = fs::perms::owner_read | fs::perms::owner_write) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  fs::permissions(path, mode, fs::perm_options::replace);
}

std::string RawKey() {
  std::string raw;
  for (int i = 0; i < 32; ++i) raw += static_cast<char>(i);
  return raw;
}

SecretBox Box(const char* hex = kHexKey) {
  return SecretBox::FromEnvValue(hex, "TEST_KEY").value();
}

bool Contains(const Status& s, std::string_view part) {
  return s.message().find(part) != std::string::npos;
}

TEST(SecretBox, RoundTripsAnyBytes) {
  SecretBox box = Box();
  std::string binary("a\0b\xff\x80", 5);
  std::string large(1 << 20, 'x');
  for (const std::string& plain : {std::string(), std::string("hunter2"), binary, large}) {
    std::string sealed = box.Seal(plain, "account:7");
    ASSERT_OK_AND_ASSIGN(std::string opened, box.Open(sealed, "account:7"));
    EXPECT_EQ(opened, plain);
  }
}

TEST(SecretBox, TagsAreStablePerKeyAndContextAndVerifyOnlyTheirMessage) {
  SecretBox box = Box();
  const std::string tag = box.Tag("unsubscr", "7-42");
  EXPECT_EQ(tag.size(), 32u);
  EXPECT_EQ(tag.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(box.Tag("unsubscr", "7-42"), tag);
  EXPECT_TRUE(box.VerifyTag("unsubscr", "7-42", tag));
  EXPECT_FALSE(box.VerifyTag("unsubscr", "7-43", tag));
  EXPECT_FALSE(box.VerifyTag("othercxt", "7-42", tag));
  EXPECT_FALSE(box.VerifyTag("unsubscr", "7-42", tag.substr(0, 31)));
  EXPECT_FALSE(Box(kOtherHexKey).VerifyTag("unsubscr", "7-42", tag));
}

TEST(SecretBox, SealedFormIsVersionedBase64WithAFreshNonceEachTime) {
  SecretBox box = Box();
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string sealed = box.Seal("hunter2", "");
    ASSERT_EQ(sealed.substr(0, 3), "v1:");
    // base64 of 24 nonce + 7 plaintext + 16 tag = 47 bytes -> 64 characters.
    EXPECT_EQ(sealed.size(), 3u + 64u);
    EXPECT_EQ(sealed.find("hunter2"), std::string::npos);
    seen.insert(sealed);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(SecretBox, OpensAValueSealedByAnEarlierBuild) {
  // "hunter2" sealed with kHexKey, associated data "account:7" and the nonce 40..57,
  // computed outside libsodium (HChaCha20 by hand, then ChaCha20-Poly1305 from
  // Python's `cryptography`): the stored form is standard XChaCha20-Poly1305 and
  // must stay readable by every later version.
  constexpr const char* kStored = "v1:QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXvExrBLWSS16zwYxCvTfVukkx4pf0Vlw=";
  ASSERT_OK_AND_ASSIGN(std::string opened, Box().Open(kStored, "account:7"));
  EXPECT_EQ(opened, "hunter2");
}

TEST(SecretBox, WrongKeyIsCorruption) {
  std::string sealed = Box().Seal("hunter2", "account:7");
  Result<std::string> r = Box(kOtherHexKey).Open(sealed, "account:7");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  EXPECT_TRUE(Contains(r.status(), "cannot be decrypted: wrong key or damaged")) << r.status().ToString();
  EXPECT_TRUE(Contains(r.status(), Box(kOtherHexKey).KeyId())) << r.status().ToString();
}

TEST(SecretBox, WrongAssociatedDataIsCorruption) {
  SecretBox box = Box();
  std::string sealed = box.Seal("hunter2", "account:7");
  for (const char* ad : {"account:8", "", "account:7 ", "ACCOUNT:7"}) {
    EXPECT_EQ(box.Open(sealed, ad).status().code(), Code::kCorruption) << ad;
  }
  std::string unbound = box.Seal("hunter2", "");
  EXPECT_EQ(box.Open(unbound, "account:7").status().code(), Code::kCorruption);
  EXPECT_OK(box.Open(unbound, ""));
}

TEST(SecretBox, TamperedCiphertextIsCorruption) {
  SecretBox box = Box();
  std::string sealed = box.Seal("a credential of some length", "account:7");
  // Change one base64 character in the nonce, the ciphertext and the tag (not the
  // last one, whose low bits may be padding).
  for (size_t pos : {size_t{3}, size_t{20}, size_t{40}, sealed.size() - 6}) {
    std::string bad = sealed;
    bad[pos] = bad[pos] == 'A' ? 'B' : 'A';
    Result<std::string> r = box.Open(bad, "account:7");
    EXPECT_EQ(r.status().code(), Code::kCorruption) << "position " << pos << ": " << r.status().ToString();
  }
  // Cut off four characters (three bytes): still base64, but the tag no longer fits.
  std::string cut = sealed.substr(0, sealed.size() - 4);
  if (cut.back() == '=') cut = sealed.substr(0, sealed.size() - 8);
  EXPECT_EQ(box.Open(cut, "account:7").status().code(), Code::kCorruption);
}

TEST(SecretBox, MalformedInputIsInvalidArgument) {
  SecretBox box = Box();
  struct Case {
    std::string sealed;
    std::string message;
  };
  const Case cases[] = {
      {"", "not a sealed value"},
      {"hunter2", "not a sealed value"},
      {"V1:AAAA", "not a sealed value"},
      {"v2:AAAA", "format v2, which this version cannot read"},
      {"v1:", "too short"},
      {"v1:AAAAAAAAAAAAAAAAAAAA", "too short"},  // 15 bytes
      {"v1:not base64!", "not valid base64"},
      {"v1:" + box.Seal("x", "").substr(3) + "\n", "not valid base64"},
  };
  for (const Case& c : cases) {
    Result<std::string> r = box.Open(c.sealed, "");
    ASSERT_FALSE(r.ok()) << c.sealed;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << c.sealed;
    EXPECT_TRUE(Contains(r.status(), c.message)) << c.sealed << " -> " << r.status().ToString();
  }
}

TEST(SecretBox, KeyIdIsAShortFingerprintOfTheKey) {
  // BLAKE2b-256 of the bytes 00..1f starts with these 8 hex characters.
  EXPECT_EQ(Box().KeyId(), "cb2f5160");
  EXPECT_EQ(Box().KeyId(), Box().KeyId());
  EXPECT_NE(Box().KeyId(), Box(kOtherHexKey).KeyId());
}

TEST(SecretBox, KeyFileRawOrHex) {
  testing::TempDir dir;
  std::string raw = dir.File("raw.key");
  WriteFile(raw, RawKey());
  std::string hex = dir.File("hex.key");
  WriteFile(hex, std::string(kHexKey) + "\n");
  std::string hex_crlf = dir.File("hex_crlf.key");
  WriteFile(hex_crlf, std::string(kHexKey) + "\r\n");
  std::string upper = dir.File("upper.key");
  std::string upper_text = kHexKey;
  for (char& c : upper_text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  WriteFile(upper, upper_text);  // no newline
  std::string read_only = dir.File("read_only.key");
  WriteFile(read_only, kHexKey, fs::perms::owner_read);

  std::string sealed = Box().Seal("hunter2", "account:7");
  for (const std::string& path : {raw, hex, hex_crlf, upper, read_only}) {
    ASSERT_OK_AND_ASSIGN(SecretBox box, SecretBox::FromKeyFile(path));
    EXPECT_EQ(box.KeyId(), Box().KeyId()) << path;
    ASSERT_OK_AND_ASSIGN(std::string opened, box.Open(sealed, "account:7"));
    EXPECT_EQ(opened, "hunter2");
  }
}

TEST(SecretBox, KeyFileErrorsNameThePathAndTheProblem) {
  testing::TempDir dir;
  struct Case {
    std::string name;
    std::string content;
    fs::perms mode;
    Code code;
    std::string message;
  };
  const fs::perms rw = fs::perms::owner_read | fs::perms::owner_write;
  const Case cases[] = {
      {"short.key", "0123456789", rw, Code::kInvalidArgument, "holds 10 bytes; expected 32 raw bytes or 64 hex"},
      {"hex63.key", std::string(kHexKey).substr(1) + "\n", rw, Code::kInvalidArgument, "holds 64 bytes"},
      {"two_newlines.key", std::string(kHexKey) + "\n\n", rw, Code::kInvalidArgument, "line 2 is empty"},
      {"second_short.key", std::string(kHexKey) + "\nabc\n", rw, Code::kInvalidArgument,
       "line 2 holds 3 characters; expected 64 hex characters"},
      {"huge.key", std::string(4096, 'a'), rw, Code::kInvalidArgument, "holds more than 2112 bytes"},
      {"empty.key", "", rw, Code::kInvalidArgument, "holds 0 bytes"},
      {"bad_hex.key", "00010203g405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", rw, Code::kInvalidArgument,
       "not hexadecimal (at offset 8)"},
      {"half.key", "000102030405060708090a0b0c0d0e0f", rw, Code::kInvalidArgument, "a 16-byte key"},
      {"open.key", kHexKey, rw | fs::perms::group_read | fs::perms::others_read, Code::kFailedPrecondition,
       "has permissions 0644, which are too open: it must not be accessible by group or others (chmod 600"},
      {"group.key", kHexKey, fs::perms::owner_read | fs::perms::group_read, Code::kFailedPrecondition,
       "has permissions 0440, which are too open"},
      {"other_write.key", kHexKey, rw | fs::perms::others_write, Code::kFailedPrecondition,
       "has permissions 0602, which are too open"},
  };
  for (const Case& c : cases) {
    std::string path = dir.File(c.name);
    WriteFile(path, c.content, c.mode);
    Result<SecretBox> r = SecretBox::FromKeyFile(path);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.status().code(), c.code) << c.name << ": " << r.status().ToString();
    EXPECT_TRUE(Contains(r.status(), "'" + path + "'")) << r.status().ToString();
    EXPECT_TRUE(Contains(r.status(), c.message)) << r.status().ToString();
  }

  Result<SecretBox> missing = SecretBox::FromKeyFile(dir.File("missing.key"));
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_TRUE(Contains(missing.status(), "key file '" + dir.File("missing.key") + "' does not exist"))
      << missing.status().ToString();

  fs::create_directory(dir.File("a_dir"));
  fs::permissions(dir.File("a_dir"), fs::perms::owner_all, fs::perm_options::replace);
  Result<SecretBox> directory = SecretBox::FromKeyFile(dir.File("a_dir"));
  EXPECT_EQ(directory.status().code(), Code::kFailedPrecondition);
  EXPECT_TRUE(Contains(directory.status(), "is not a regular file")) << directory.status().ToString();
}

TEST(SecretBox, GenerateKeyFileCreatesA0600FileAndNeverOverwrites) {
  testing::TempDir dir;
  std::string path = dir.File("outflow.key");
  mode_t old_umask = ::umask(0);  // the mode must not depend on the umask
  Status generated = SecretBox::GenerateKeyFile(path);
  ::umask(old_umask);
  ASSERT_OK(generated);

  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_size, 65);
  ASSERT_OK_AND_ASSIGN(SecretBox box, SecretBox::FromKeyFile(path));
  ASSERT_OK_AND_ASSIGN(std::string opened, box.Open(box.Seal("hunter2", "a"), "a"));
  EXPECT_EQ(opened, "hunter2");

  Status again = SecretBox::GenerateKeyFile(path);
  EXPECT_EQ(again.code(), Code::kConflict);
  EXPECT_TRUE(Contains(again, "already exists; refusing to overwrite it")) << again.ToString();
  ASSERT_OK_AND_ASSIGN(SecretBox same, SecretBox::FromKeyFile(path));
  EXPECT_EQ(same.KeyId(), box.KeyId());

  // A second key is a different key, and no temporary file is left behind.
  std::string other = dir.File("other.key");
  ASSERT_OK(SecretBox::GenerateKeyFile(other));
  ASSERT_OK_AND_ASSIGN(SecretBox other_box, SecretBox::FromKeyFile(other));
  EXPECT_NE(other_box.KeyId(), box.KeyId());
  int files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 2);

  Status no_dir = SecretBox::GenerateKeyFile(dir.File("missing/outflow.key"));
  EXPECT_EQ(no_dir.code(), Code::kFailedPrecondition);
  EXPECT_TRUE(Contains(no_dir, "cannot create key file")) << no_dir.ToString();
}

TEST(SecretBox, EnvValueHexOrBase64) {
  std::string id = Box().KeyId();
  for (const char* value : {kHexKey, kBase64Key, kBase64UrlKey}) {
    ASSERT_OK_AND_ASSIGN(SecretBox box, SecretBox::FromEnvValue(value, "OUTFLOW_SECRET_KEY"));
    EXPECT_EQ(box.KeyId(), id) << value;
  }
  ASSERT_OK_AND_ASSIGN(SecretBox padded, SecretBox::FromEnvValue("  " + std::string(kBase64Key) + "\n", "K"));
  EXPECT_EQ(padded.KeyId(), id);

  const std::string bad_values[] = {
      "",
      "secret",
      std::string(kHexKey).substr(2),                      // 62 hex characters
      std::string(kHexKey).substr(2) + "zz",               // 64 characters, not hex
      "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==",      // base64 of 31 bytes
      "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gIQ==",  // base64 of 34 bytes
  };
  for (const std::string& value : bad_values) {
    Result<SecretBox> r = SecretBox::FromEnvValue(value, "OUTFLOW_SECRET_KEY");
    ASSERT_FALSE(r.ok()) << value;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_TRUE(Contains(r.status(), "OUTFLOW_SECRET_KEY: expected 64 hex characters or the base64 of 32 bytes"))
        << r.status().ToString();
    if (!value.empty()) {
      EXPECT_FALSE(Contains(r.status(), value)) << "the message must not echo the value";
    }
  }
}

TEST(SecretBox, ConcurrentSealAndOpen) {
  SecretBox box = Box();
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        std::string plain = "secret " + std::to_string(t) + "/" + std::to_string(i);
        std::string ad = "account:" + std::to_string(t);
        Result<std::string> r = box.Open(box.Seal(plain, ad), ad);
        if (!r.ok() || *r != plain) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace outflow

namespace outflow {
namespace {

TEST(SecretBoxRotation, ANewKeySealsAndTheOldOnesStillOpenAndVerify) {
  testing::TempDir dir;
  const std::string path = dir.File("secret.key");
  ASSERT_OK(SecretBox::GenerateKeyFile(path));
  ASSERT_OK_AND_ASSIGN(SecretBox before, SecretBox::FromKeyFile(path));
  const std::string old_id = before.KeyId();
  const std::string sealed_before = before.Seal("hunter2", "account:7");
  const std::string tag_before = before.Tag("unsubscr", "campaign 1 contact 2");

  ASSERT_OK_AND_ASSIGN(SecretBox after, SecretBox::RotateKeyFile(path));
  ASSERT_EQ(after.KeyIds().size(), 2u);
  EXPECT_EQ(after.KeyIds()[1], old_id);
  EXPECT_NE(after.KeyId(), old_id);
  EXPECT_EQ(fs::status(path).permissions(), fs::perms::owner_read | fs::perms::owner_write);
  ASSERT_OK_AND_ASSIGN(std::string opened, after.Open(sealed_before, "account:7"));
  EXPECT_EQ(opened, "hunter2") << "a value sealed before the rotation still opens";
  EXPECT_TRUE(after.VerifyTag("unsubscr", "campaign 1 contact 2", tag_before)) << "an old link still verifies";
  EXPECT_NE(after.Tag("unsubscr", "campaign 1 contact 2"), tag_before) << "new tags use the new key";

  // A value sealed now is under the new key: the old key alone cannot open it.
  const std::string sealed_after = after.Seal("hunter3", "account:7");
  ASSERT_OK_AND_ASSIGN(SecretBox old_only, SecretBox::FromEnvValue(std::string(64, '0'), "X"));
  EXPECT_EQ(old_only.Open(sealed_after, "account:7").status().code(), Code::kCorruption);
}

TEST(SecretBoxRotation, AProcessThatReadTheFileBeforeARotationPicksUpTheNewKey) {
  testing::TempDir dir;
  const std::string path = dir.File("secret.key");
  ASSERT_OK(SecretBox::GenerateKeyFile(path));
  ASSERT_OK_AND_ASSIGN(SecretBox daemon, SecretBox::FromKeyFile(path));  // another process, started earlier
  ASSERT_OK_AND_ASSIGN(SecretBox rotated, SecretBox::RotateKeyFile(path));
  const std::string sealed = rotated.Seal("token", "account:3");
  ASSERT_OK_AND_ASSIGN(std::string opened, daemon.Open(sealed, "account:3"));
  EXPECT_EQ(opened, "token") << "an Open that no key passes reads the replaced file";
  EXPECT_EQ(daemon.KeyId(), rotated.KeyId()) << "and from then on seals with the new key";
  EXPECT_TRUE(daemon.VerifyTag("tracking", "m1", rotated.Tag("tracking", "m1")));
}

TEST(SecretBoxRotation, ARingKeepsTheNewestKeysAndRefusesADamagedFile) {
  testing::TempDir dir;
  const std::string path = dir.File("secret.key");
  ASSERT_OK(SecretBox::GenerateKeyFile(path));
  ASSERT_OK_AND_ASSIGN(SecretBox first, SecretBox::FromKeyFile(path));
  std::string newest_old;
  for (size_t i = 0; i < SecretBox::kMaxKeys + 3; ++i) {
    ASSERT_OK_AND_ASSIGN(SecretBox r, SecretBox::RotateKeyFile(path));
    newest_old = r.KeyIds()[1];
  }
  ASSERT_OK_AND_ASSIGN(SecretBox ring, SecretBox::FromKeyFile(path));
  EXPECT_EQ(ring.KeyIds().size(), SecretBox::kMaxKeys);
  EXPECT_EQ(ring.KeyIds()[1], newest_old);
  EXPECT_EQ(std::count(ring.KeyIds().begin(), ring.KeyIds().end(), first.KeyId()), 0) << "the oldest fell off";

  WriteFile(dir.File("bad.key"), std::string(64, 'a') + "\nnot-a-key\n");
  Result<SecretBox> bad = SecretBox::RotateKeyFile(dir.File("bad.key"));
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(Contains(bad.status(), "line 2")) << bad.status().ToString();
}

}  // namespace
}  // namespace outflow
