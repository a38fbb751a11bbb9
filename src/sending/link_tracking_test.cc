#include "sending/link_tracking.h"

#include <gtest/gtest.h>

#include <boost/url/params_view.hpp>
#include <boost/url/parse.hpp>

#include <regex>

namespace outflow {
namespace {

SecretBox Key(const char* hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f") {
  return SecretBox::FromEnvValue(hex, "TEST_KEY").value();
}

// The click links in `html`, as (id, tag, decoded url).
struct Click {
  std::string id, tag, url;
};
std::vector<Click> Clicks(const std::string& html) {
  std::vector<Click> out;
  std::regex re(R"re(href="https://t\.example/t/c/(\d+)/([0-9a-f]+)\?u=([^"]*)")re", std::regex::icase);
  for (auto it = std::sregex_iterator(html.begin(), html.end(), re); it != std::sregex_iterator(); ++it) {
    const std::string query = "u=" + (*it)[3].str();
    auto q = boost::urls::params_view(query);
    out.push_back({(*it)[1].str(), (*it)[2].str(), std::string((*q.begin()).value)});
  }
  return out;
}

TEST(LinkTracker, RewritesHttpLinksAndVerifiesEachForItsMessageAndUrl) {
  SecretBox key = Key();
  LinkTracker t(key, "https://t.example/");
  const std::string html = R"(<html><body><p>Hi <A class="x" HREF="https://shop.example/a?x=1&amp;y=2">sale</A> and )"
                           R"(<a href='http://b.example/p'>b</a></p></body></html>)";
  const std::string out = t.Instrument(MessageId(42), html);
  std::vector<Click> clicks = Clicks(out);
  ASSERT_EQ(clicks.size(), 2u) << out;
  EXPECT_EQ(clicks[0].url, "https://shop.example/a?x=1&y=2");  // as the browser would have followed it
  EXPECT_EQ(clicks[1].url, "http://b.example/p");
  for (const Click& c : clicks) {
    EXPECT_EQ(c.id, "42");
    EXPECT_EQ(t.VerifyClick(c.id, c.tag, c.url), MessageId(42));
    EXPECT_EQ(t.VerifyClick("43", c.tag, c.url), std::nullopt) << "another message";
    EXPECT_EQ(t.VerifyClick(c.id, c.tag, c.url + "x"), std::nullopt) << "another URL";
    std::string bad = c.tag;
    bad[0] = bad[0] == 'a' ? 'b' : 'a';
    EXPECT_EQ(t.VerifyClick(c.id, bad, c.url), std::nullopt) << "a changed tag";
  }
  EXPECT_NE(out.find(">sale</A>"), std::string::npos);
  EXPECT_NE(out.find("class=\"x\""), std::string::npos);
}

TEST(LinkTracker, AddsTheOpenPixelBeforeTheBodyEndOrAtTheEnd) {
  SecretBox key = Key();
  LinkTracker t(key, "https://t.example");
  const std::string with_body = t.Instrument(MessageId(7), "<html><body><p>x</p></body></html>");
  const size_t pixel = with_body.find("<img src=\"https://t.example/t/o/7/");
  ASSERT_NE(pixel, std::string::npos);
  EXPECT_LT(pixel, with_body.find("</body>"));
  const std::string bare = t.Instrument(MessageId(7), "<p>x</p>");
  EXPECT_TRUE(bare.starts_with("<p>x</p><img src=\"https://t.example/t/o/7/")) << bare;

  std::smatch m;
  ASSERT_TRUE(std::regex_search(bare, m, std::regex(R"(/t/o/(\d+)/([0-9a-f]+)\.gif)")));
  EXPECT_EQ(t.VerifyOpen(m[1].str(), m[2].str()), MessageId(7));
  EXPECT_EQ(t.VerifyOpen("8", m[2].str()), std::nullopt);
  EXPECT_EQ(t.VerifyOpen("0x7", m[2].str()), std::nullopt);
  // A click tag is not an open tag and the other way round.
  EXPECT_EQ(t.VerifyClick(m[1].str(), m[2].str(), ""), std::nullopt);
}

TEST(LinkTracker, LeavesOtherLinksAndOptedOutLinksAlone) {
  SecretBox key = Key();
  LinkTracker t(key, "https://t.example");
  const std::string html =
      R"(<a href="mailto:a@b.example">m</a><a href="tel:+1">t</a><a href="#top">a</a>)"
      R"(<a data-outflow-notrack href="https://keep.example/">k</a><abbr title="https://x">x</abbr>)"
      R"(<area href="https://map.example"><a name=x>n</a><a href=https://bare.example/q>b</a>)";
  const std::string out = t.Instrument(MessageId(1), html);
  EXPECT_NE(out.find(R"(href="mailto:a@b.example")"), std::string::npos);
  EXPECT_NE(out.find(R"(href="tel:+1")"), std::string::npos);
  EXPECT_NE(out.find(R"(href="#top")"), std::string::npos);
  EXPECT_NE(out.find(R"(href="https://keep.example/")"), std::string::npos);
  EXPECT_NE(out.find(R"(<area href="https://map.example">)"), std::string::npos);
  std::vector<Click> clicks = Clicks(out);
  ASSERT_EQ(clicks.size(), 1u) << out;  // only the unquoted one
  EXPECT_EQ(clicks[0].url, "https://bare.example/q");
}

TEST(LinkTracker, AnotherKeyMakesOtherTags) {
  SecretBox a = Key();
  SecretBox b = Key("ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  LinkTracker ta(a, "https://t.example"), tb(b, "https://t.example");
  EXPECT_NE(ta.OpenUrl(MessageId(1)), tb.OpenUrl(MessageId(1)));
  std::smatch m;
  const std::string url = ta.ClickUrl(MessageId(1), "https://x.example/");
  ASSERT_TRUE(std::regex_search(url, m, std::regex(R"(/t/c/1/([0-9a-f]+)\?)")));
  EXPECT_EQ(tb.VerifyClick("1", m[1].str(), "https://x.example/"), std::nullopt);
}

}  // namespace
}  // namespace outflow
