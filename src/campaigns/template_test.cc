#include "campaigns/template.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "testing/status_matchers.h"

namespace outflow {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::set<std::string, std::less<>>& Known() {
  static const std::set<std::string, std::less<>> kKnown = {
      "first_name",  "last_name",        "email",   "phone", "owner", "tier", "pipeline_stage", "locale", "time_zone",
      "external_id", "engagement_score", "company", "seats"};
  return kKnown;
}

TemplateValues Ann() {
  return {{"first_name", "Ann"}, {"last_name", "Lee"}, {"email", "ann@example.com"}, {"tier", "pro"}};
}

// Compiles {subject, text, html}; the test fails if it does not compile.
CompiledTemplate MustCompile(const MessageTemplate& t) {
  auto r = CompileTemplate(t, Known());
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return CompileTemplate({"", "placeholder", ""}, Known()).value();
  return std::move(r).value();
}

// The text part of {"", text, ""} rendered for `values`.
std::string RenderText(const std::string& text, const TemplateValues& values = Ann()) {
  auto r = Render(MustCompile({"", text, ""}), values);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r->text : "<render failed>";
}

std::string RenderHtml(const std::string& html, const TemplateValues& values = Ann()) {
  auto r = Render(MustCompile({"", "", html}), values);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r->html : "<render failed>";
}

// The message of compiling `t`, which must fail with InvalidArgument.
std::string CompileError(const MessageTemplate& t) {
  auto r = CompileTemplate(t, Known());
  EXPECT_FALSE(r.ok()) << "compiled, but should not have: '" << t.subject << "' / '" << t.text << "' / '" << t.html
                       << "'";
  if (r.ok()) return "<compiled>";
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << r.status().ToString();
  return r.status().message();
}

TEST(Template, RendersEveryPart) {
  CompiledTemplate t = MustCompile({"Hi {{first_name}}", "Dear {{first_name}} {{last_name}},", "<p>{{email}}</p>"});
  ASSERT_OK_AND_ASSIGN(RenderedMessage m, Render(t, Ann()));
  EXPECT_EQ(m.subject, "Hi Ann");
  EXPECT_EQ(m.text, "Dear Ann Lee,");
  EXPECT_EQ(m.html, "<p>ann@example.com</p>");
}

TEST(Template, SpacesInsideTagsAreIgnored) {
  EXPECT_EQ(RenderText("{{ first_name }}/{{#  tier }}x{{/ tier }}"), "Ann/x");
}

// --- The single-brace form -----------------------------------------------------

TEST(SingleBrace, MeansExactlyTheDoubleBraceForm) {
  EXPECT_EQ(RenderText("Hi {first_name}!"), "Hi Ann!");
  EXPECT_EQ(RenderText("{first_name}{last_name}"), "AnnLee");
  EXPECT_EQ(RenderHtml("<b>{first_name}</b>", {{"first_name", "<Ann>"}}), "<b>&lt;Ann&gt;</b>");  // escaped like {{x}}
  EXPECT_EQ(RenderText("{first_name|there}", {}), "there");
  EXPECT_EQ(RenderText("Hi {first_name|dear friend}.", {}), "Hi dear friend.");
}

TEST(SingleBrace, OtherBracesAreLiteral) {
  const std::string css = "<style>p { color: red } a{color:blue} .x{}</style>";
  EXPECT_EQ(RenderHtml(css), css);
  const std::string json = R"({"id": 1, "items": [{"a": {"b": 2}}], "e": {}})";
  EXPECT_EQ(RenderText(json), json);
  for (const std::string s : {"{ first_name }", "{1abc}", "{first_name", "{-x}", "{}", "{", "}", "}}", "a{b c}",
                              "{first_name|no close", "{first_name|two\nlines}", "{first_name|x{"}) {
    EXPECT_EQ(RenderText(s), s) << s;
  }
}

TEST(SingleBrace, DoubleBracesAreNotMisread) {
  // Neither "{" + "{first_name}" + "}" nor a single brace around a tag.
  EXPECT_EQ(RenderText("{{first_name}}"), "Ann");
  EXPECT_EQ(RenderText("{first_name}}"), "Ann}");
  EXPECT_EQ(RenderText("{{first_name}}}"), "Ann}");
  EXPECT_EQ(RenderHtml("{{{first_name}}}", {{"first_name", "<b>"}}), "<b>");
  EXPECT_THAT(CompileError({"", "{{first_name}", ""}), HasSubstr("unclosed tag '{{' at line 1, column 1"));
  EXPECT_THAT(CompileError({"", "{{{first_name}}", ""}), HasSubstr("unclosed tag '{{{' at line 1, column 1"));
}

TEST(SingleBrace, AnUnknownIdentifierIsAnErrorNotLiteralText) {
  // A typo must not go out to customers as "{frist_name}".
  EXPECT_EQ(CompileError({"", "Hi {frist_name}", ""}), "text: unknown field 'frist_name' at line 1, column 4");
  EXPECT_EQ(CompileError({"", "see {a.b}", ""}), "text: unknown field 'a.b' at line 1, column 5");
  // The documented way to write a literal {name}.
  EXPECT_EQ(RenderText("{first_name{{!}}}"), "{first_name}");
}

// --- Defaults ------------------------------------------------------------------

TEST(Defaults, UsedWhenMissingOrEmpty) {
  EXPECT_EQ(RenderText("Hi {{first_name|there}}", {}), "Hi there");
  EXPECT_EQ(RenderText("Hi {{first_name|there}}", {{"first_name", ""}}), "Hi there");
  EXPECT_EQ(RenderText("Hi {{first_name|there}}", {{"first_name", "Bo"}}), "Hi Bo");
  EXPECT_EQ(RenderText("Hi {{first_name|dear  valued customer}}!", {}), "Hi dear  valued customer!");
  EXPECT_EQ(RenderText("Hi {{ first_name | there }}!", {}), "Hi there!");  // trimmed
  EXPECT_EQ(RenderText("[{{last_name|}}]", {}), "[]");                     // empty default: optional field
  EXPECT_EQ(RenderText("{{first_name|a|b}}", {}), "a|b");                  // the first '|' separates
  EXPECT_EQ(RenderText("{{first_name|a}b}}", {}), "a}b");                  // the default ends at "}}"
}

TEST(Defaults, EscapedLikeValues) {
  const TemplateValues none;
  EXPECT_EQ(RenderHtml("{{company|Smith & <Co>}}", none), "Smith &amp; &lt;Co&gt;");
  EXPECT_EQ(RenderHtml("{company|Smith & Co}", none), "Smith &amp; Co");
  EXPECT_EQ(RenderHtml("{{{company|<b>Co</b>}}}", none), "<b>Co</b>");
  EXPECT_EQ(RenderHtml("{{&company|<b>Co</b>}}", none), "<b>Co</b>");
  EXPECT_EQ(RenderText("{{company|Smith & <Co>}}", none), "Smith & <Co>");
}

TEST(Defaults, NotAllowedOnSections) {
  EXPECT_EQ(CompileError({"", "{{#tier|x}}y{{/tier}}", ""}),
            "text: a section cannot have a default: '{{#tier|x}}' at line 1, column 1");
}

// --- Escaping ------------------------------------------------------------------

TEST(Escaping, HtmlPartEscapesDoubleBracesOnly) {
  const TemplateValues v = {{"company", R"(<a href="x">Tom & Jerry's</a>)"}};
  EXPECT_EQ(RenderHtml("<p>{{company}}</p>", v), "<p>&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;</p>");
  EXPECT_EQ(RenderHtml("<p>{{{company}}}</p>", v), R"(<p><a href="x">Tom & Jerry's</a></p>)");
  EXPECT_EQ(RenderHtml("<p>{{& company}}</p>", v), R"(<p><a href="x">Tom & Jerry's</a></p>)");
}

TEST(Escaping, SubjectAndTextAreNotEscaped) {
  const TemplateValues v = {{"company", R"(Tom & Jerry's <"best">)"}};
  ASSERT_OK_AND_ASSIGN(RenderedMessage m,
                       Render(MustCompile({"{{company}}", "{{company}} {{{company}}}", "<i>{{company}}</i>"}), v));
  EXPECT_EQ(m.subject, R"(Tom & Jerry's <"best">)");
  EXPECT_EQ(m.text, R"(Tom & Jerry's <"best"> Tom & Jerry's <"best">)");
  EXPECT_EQ(m.html, "<i>Tom &amp; Jerry&#39;s &lt;&quot;best&quot;&gt;</i>");
}

TEST(Escaping, ValuesAreNeverParsedAsTemplates) {
  EXPECT_EQ(RenderText("{{company}}", {{"company", "{{first_name}} {email}"}}), "{{first_name}} {email}");
}

TEST(Utf8, PassesThroughUnchanged) {
  const TemplateValues v = {{"first_name", "Zoë 😀"}, {"company", "Müller & Söhne"}};
  EXPECT_EQ(RenderText("Grüße, {{first_name}} – 你好", v), "Grüße, Zoë 😀 – 你好");
  EXPECT_EQ(RenderHtml("<p>¡{{company}}!</p>", v), "<p>¡Müller &amp; Söhne!</p>");
}

// --- Compile-time errors --------------------------------------------------------

TEST(CompileErrors, UnknownFieldNamesPartFieldAndPosition) {
  EXPECT_EQ(CompileError({"Hello {{frist_name}}", "x", ""}), "subject: unknown field 'frist_name' at line 1, column 7");
  EXPECT_EQ(CompileError({"", "Hi,\n\n  {{#vip}}x{{/vip}}", ""}), "text: unknown field 'vip' at line 3, column 3");
  // Columns count characters, not bytes.
  EXPECT_EQ(CompileError({"", "", "<p>\nGrüße {{nmae|x}}"}), "html: unknown field 'nmae' at line 2, column 7");
  EXPECT_EQ(CompileError({"", "{{{nope}}}", ""}), "text: unknown field 'nope' at line 1, column 1");
}

TEST(CompileErrors, SyntaxErrorsNamePartAndPosition) {
  EXPECT_EQ(CompileError({"", "ok\nHi {{first_name", ""}), "text: unclosed tag '{{' at line 2, column 4 (no '}}')");
  EXPECT_EQ(CompileError({"", "", "{{#tier}}\n<p>x</p>"}),
            "html: section 'tier' opened at line 1, column 1 is never closed");
  EXPECT_EQ(CompileError({"", "{{#tier}}a\n {{^email}}b{{/tier}}{{/email}}", ""}),
            "text: '{{/tier}}' at line 2, column 13 does not close section 'email' opened at line 2, column 2");
  EXPECT_EQ(CompileError({"", "a {{/tier}}", ""}), "text: '{{/tier}}' at line 1, column 3 closes no open section");
  EXPECT_EQ(CompileError({"", "a {{ }}", ""}), "text: empty tag '{{ }}' at line 1, column 3");
  EXPECT_EQ(CompileError({"", "{{#}}{{/}}", ""}), "text: missing field name at line 1, column 1");
  EXPECT_EQ(CompileError({"", "{{> footer}}", ""}),
            "text: partials are not supported: '{{> footer}}' at line 1, column 1");
  EXPECT_EQ(CompileError({"", "{{=<% %>=}}", ""}),
            "text: changing the delimiters is not supported: '{{=<% %>=}}' at line 1, column 1");
}

TEST(CompileErrors, PartsAreCheckedInOrder) {
  EXPECT_THAT(CompileError({"{{a}}", "{{b}}", "{{c}}"}), HasSubstr("subject: unknown field 'a'"));
  EXPECT_THAT(CompileError({"", "{{b}}", "{{c}}"}), HasSubstr("text: unknown field 'b'"));
  EXPECT_THAT(CompileError({"", "x", "{{c}}"}), HasSubstr("html: unknown field 'c'"));
}

// --- Render-time errors ---------------------------------------------------------

TEST(RenderErrors, MissingValueWithoutDefaultNamesPartAndField) {
  CompiledTemplate t = MustCompile({"For {{company|you}}", "Hi\n  {{first_name}},", "<p>{{first_name}}</p>"});
  for (const TemplateValues& v : {TemplateValues{}, TemplateValues{{"first_name", ""}}}) {
    auto r = Render(t, v);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(r.status().message(), "text: field 'first_name' has no value and no default, at line 2, column 3");
  }
  // The next recipient renders with the same compiled template.
  ASSERT_OK_AND_ASSIGN(RenderedMessage m, Render(t, {{"first_name", "Bo"}}));
  EXPECT_EQ(m.text, "Hi\n  Bo,");
}

TEST(RenderErrors, MissingValueInHtmlAndSubject) {
  auto r = Render(MustCompile({"", "x", "<b>{{{last_name}}}</b>"}), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "html: field 'last_name' has no value and no default, at line 1, column 4");
  r = Render(MustCompile({"{last_name}", "x", ""}), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "subject: field 'last_name' has no value and no default, at line 1, column 1");
}

TEST(RenderErrors, LineBreakInSubject) {
  CompiledTemplate t = MustCompile({"Offer for {{company}}", "Hello {{company}}", ""});
  for (const std::string bad : {"Evil\r\nBcc: x@y.z", "a\nb", "a\rb"}) {
    auto r = Render(t, {{"company", bad}});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(r.status().message(), "subject: field 'company' contains a line break, at line 1, column 11");
  }
  // In the text a line break is fine.
  ASSERT_OK_AND_ASSIGN(RenderedMessage m, Render(MustCompile({"", "Hello {{company}}", ""}), {{"company", "a\nb"}}));
  EXPECT_EQ(m.text, "Hello a\nb");
  // A subject written over two lines is refused when compiling.
  EXPECT_EQ(CompileError({"Hi {{first_name}}\nBcc: x", "x", ""}),
            "subject: contains a line break at line 1, column 18; a subject is one line");
  EXPECT_THAT(CompileError({"Hi {{first_name|a\r\nb}}", "x", ""}), HasSubstr("subject: contains a line break"));
}

// --- Sections ------------------------------------------------------------------

TEST(Sections, RenderWhenTheFieldIsNotEmpty) {
  const std::string t = "{{#tier}}Your tier: {{tier}}.{{/tier}}{{^tier}}No tier.{{/tier}}";
  EXPECT_EQ(RenderText(t, {{"tier", "pro"}}), "Your tier: pro.");
  EXPECT_EQ(RenderText(t, {{"tier", ""}}), "No tier.");
  EXPECT_EQ(RenderText(t, {}), "No tier.");
  // "0" and "false" are values like any other: not empty.
  EXPECT_EQ(RenderText(t, {{"tier", "0"}}), "Your tier: 0.");
}

TEST(Sections, AFieldInASkippedSectionNeedsNoValue) {
  const std::string t = "Hi{{#company}} from {{company}} ({{seats}} seats){{/company}}.";
  EXPECT_EQ(RenderText(t, {}), "Hi.");
  EXPECT_EQ(RenderText(t, {{"company", "Acme"}, {"seats", "3"}}), "Hi from Acme (3 seats).");
  auto r = Render(MustCompile({"", t, ""}), {{"company", "Acme"}});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("text: field 'seats' has no value and no default"));
}

TEST(Sections, NestAndOtherFieldsStayVisible) {
  const std::string t = "{{#tier}}[{{#company}}{{first_name}}@{{company}}{{/company}}]{{/tier}}";
  EXPECT_EQ(RenderText(t, {{"tier", "pro"}, {"company", "Acme"}, {"first_name", "Ann"}}), "[Ann@Acme]");
  EXPECT_EQ(RenderText(t, {{"tier", "pro"}}), "[]");
  EXPECT_EQ(RenderText(t, {}), "");
}

TEST(Sections, StandaloneTagLinesLeaveNoBlankLines) {
  const std::string t = "Hi\n{{#tier}}\nTier: {{tier}}\n{{/tier}}\nBye\n";
  EXPECT_EQ(RenderText(t, {{"tier", "pro"}}), "Hi\nTier: pro\nBye\n");
  EXPECT_EQ(RenderText(t, {}), "Hi\nBye\n");
}

TEST(Sections, StandaloneLinesOfInvertedSections) {
  const std::string t = "Hi\n  {{^tier}}\n  No tier yet.\n  {{/tier}}\nBye";
  EXPECT_EQ(RenderText(t, {}), "Hi\n  No tier yet.\nBye");
  EXPECT_EQ(RenderText(t, {{"tier", "pro"}}), "Hi\nBye");
}

TEST(Sections, BlankLinesInsideSectionsAreKept) {
  const std::string t = "X\n{{#tier}}\n\n{{/tier}}\nY";
  EXPECT_EQ(RenderText(t, {{"tier", "pro"}}), "X\n\nY");
  EXPECT_EQ(RenderText(t, {}), "X\nY");
}

TEST(Comments, RenderNothing) {
  EXPECT_EQ(RenderText("a{{! a note with {first_name} and {braces} }}b"), "ab");
  EXPECT_EQ(RenderText("a{{!}}b"), "ab");
  EXPECT_EQ(RenderText("a{{! ends at the first }} }}b"), "a }}b");  // as in Mustache
  EXPECT_EQ(RenderText("Hi\n{{! a comment alone on its line }}\nBye"), "Hi\nBye");
}

// --- Limits --------------------------------------------------------------------

TEST(Limits, EachPartAtMost256KiB) {
  const std::string max(kMaxTemplatePartBytes, 'x');
  EXPECT_OK(CompileTemplate({max, max, max}, Known()));
  const std::string over = max + "x";
  EXPECT_EQ(CompileError({over, "x", ""}), "subject: 262145 bytes, more than the limit of 262144 (256 KiB)");
  EXPECT_EQ(CompileError({"", over, ""}), "text: 262145 bytes, more than the limit of 262144 (256 KiB)");
  EXPECT_EQ(CompileError({"", "x", over}), "html: 262145 bytes, more than the limit of 262144 (256 KiB)");
}

TEST(Limits, TextOrHtmlRequiredSubjectOptional) {
  EXPECT_EQ(CompileError({"Subject", "", ""}), "text, html: both are empty; a template needs a text or an html part");
  EXPECT_OK(CompileTemplate({"", "text only", ""}, Known()));
  EXPECT_OK(CompileTemplate({"", "", "<p>html only</p>"}, Known()));
  ASSERT_OK_AND_ASSIGN(RenderedMessage m, Render(MustCompile({"", "", "<p>h</p>"}), {}));
  EXPECT_EQ(m.subject, "");
  EXPECT_EQ(m.text, "");
  EXPECT_EQ(m.html, "<p>h</p>");
}

// --- fields() and source() -------------------------------------------------------

TEST(Fields, ListsEveryFieldUsedOnceSorted) {
  CompiledTemplate t =
      MustCompile({"{first_name|there}", "{{#tier}}{{{company}}}{{/tier}}{{^seats}}-{{/seats}} {{! email }}",
                   "{{first_name}} {{& last_name}}"});
  EXPECT_THAT(t.fields(), ElementsAre("company", "first_name", "last_name", "seats", "tier"));
  EXPECT_TRUE(MustCompile({"", "no fields {here", ""}).fields().empty());
  EXPECT_EQ(t.source().subject, "{first_name|there}");
}

TEST(Threads, OneCompiledTemplateRendersConcurrently) {
  const CompiledTemplate t = MustCompile({"Hi {{first_name}}", "{{#tier}}{{tier}}{{/tier}}", "<b>{{first_name}}</b>"});
  std::vector<std::string> first_wrong(4);  // per thread: the first wrong result, if any
  std::vector<std::thread> threads;
  for (size_t i = 0; i < first_wrong.size(); ++i) {
    threads.emplace_back([&t, &first_wrong, i] {
      const std::string name = "N" + std::to_string(i);
      for (int n = 0; n < 200 && first_wrong[i].empty(); ++n) {
        auto r = Render(t, {{"first_name", name}, {"tier", "t"}});
        if (!r.ok()) {
          first_wrong[i] = r.status().ToString();
        } else if (r->subject != "Hi " + name || r->text != "t" || r->html != "<b>" + name + "</b>") {
          first_wrong[i] = r->subject;
          first_wrong[i] += '|';
          first_wrong[i] += r->text;
          first_wrong[i] += '|';
          first_wrong[i] += r->html;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const std::string& wrong : first_wrong) EXPECT_EQ(wrong, "");
}

}  // namespace
}  // namespace outflow
