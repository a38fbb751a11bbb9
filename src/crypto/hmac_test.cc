#include "crypto/hmac.h"

#include <gtest/gtest.h>

namespace outflow::crypto {
namespace {

// RFC 2202 test case 2 and RFC 4231 test case 2.
TEST(Hmac, MatchesTheRfcTestVectors) {
  EXPECT_EQ(Hex(HmacSha1("Jefe", "what do ya want for nothing?")), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
  EXPECT_EQ(Hex(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Hmac, AnEmptyKeyIsAKey) {
  // RFC 4231 does not list it; Python's hmac.new(b"", b"abc", sha256) gives this.
  EXPECT_EQ(Hex(HmacSha256("", "abc")), "fd7adb152c05ef80dccf50a1fa4c05d5a3ec6da95575fc312ae7c5d091836351");
}

TEST(Hmac, Base64IsStandardAndPadded) {
  EXPECT_EQ(Base64(""), "");
  EXPECT_EQ(Base64("f"), "Zg==");
  EXPECT_EQ(Base64("fo"), "Zm8=");
  EXPECT_EQ(Base64("foo"), "Zm9v");
  EXPECT_EQ(Base64(std::string("\xfb\xff", 2)), "+/8=");
}

TEST(Hmac, ConstantTimeEqualComparesLengthAndBytes) {
  EXPECT_TRUE(ConstantTimeEqual("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEqual("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEqual("abc", "abcd"));
  EXPECT_TRUE(ConstantTimeEqual("", ""));
}

}  // namespace
}  // namespace outflow::crypto
