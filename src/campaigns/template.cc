#include "campaigns/template.h"

#include <kainjow/mustache.hpp>

#include <algorithm>
#include <charconv>
#include <exception>
#include <mutex>
#include <optional>
#include <string_view>
#include <system_error>

namespace outflow {

namespace {

namespace mustache = kainjow::mustache;

using KnownFields = std::set<std::string, std::less<>>;

enum class Part { kSubject, kText, kHtml };

std::string_view PartName(Part p) {
  switch (p) {
    case Part::kSubject: return "subject";
    case Part::kText: return "text";
    case Part::kHtml: return "html";
  }
  return "?";
}

Status PartError(Part p, std::string_view what) {
  std::string m(PartName(p));
  m += ": ";
  m += what;
  return Status::InvalidArgument(std::move(m));
}

// A 1-based line and column; the column counts UTF-8 code points, not bytes.
struct Position {
  int line = 1;
  int column = 1;
};

std::string At(Position p) {
  return "at line " + std::to_string(p.line) + ", column " + std::to_string(p.column);
}

// Turns byte offsets into positions in one pass over the text.
class PositionCursor {
 public:
  explicit PositionCursor(std::string_view text) : text_(text) {}

  // REQUIRES: offset >= the offset of the previous call, offset <= text.size().
  Position At(size_t offset) {
    for (; offset_ < offset; ++offset_) {
      const auto c = static_cast<unsigned char>(text_[offset_]);
      if (c == '\n') {
        ++pos_.line;
        pos_.column = 1;
      } else if ((c & 0xC0) != 0x80) {  // not a UTF-8 continuation byte
        ++pos_.column;
      }
    }
    return pos_;
  }

 private:
  std::string_view text_;
  size_t offset_ = 0;
  Position pos_;
};

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n\f\v";
  const size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
}

bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsIdentChar(char c) {
  return IsIdentStart(c) || (c >= '0' && c <= '9') || c == '.';
}

// One field reference of a part. Its index in CompiledPart::slots is its tag's name
// in the canonical form.
struct Slot {
  bool section = false;  // {{#f}} / {{^f}}: stands for "f is not empty"; else a variable
  std::string field;
  std::optional<std::string> default_value;  // variables only
  Position pos;                              // of the tag in the part as written
};

// An empty inverted section over a name that never resolves, so it always renders.
// kainjow drops a line that rendered a section and is otherwise blank (its form of
// the spec's standalone-line rule), but only when a section actually rendered: a false
// section or a comment alone on its line would leave a blank line. This mark, put
// after every section and in place of every comment, applies the rule to them too.
constexpr std::string_view kLineMark = "{{^-}}{{/-}}";

struct CompiledPart {
  // The part in plain Mustache for kainjow: literal text unchanged, every tag
  // rewritten to name its slot ({{3}}, {{{3}}}, {{#3}}..{{/3}}), comments and
  // section ends followed by kLineMark.
  std::string canonical;
  std::vector<Slot> slots;
};

// Splits "name|default" (either side trimmed).
struct Reference {
  std::string_view name;
  std::optional<std::string_view> default_value;
};
Reference ParseReference(std::string_view contents) {
  const size_t bar = contents.find('|');
  if (bar == std::string_view::npos) return {Trim(contents), std::nullopt};
  return {Trim(contents.substr(0, bar)), Trim(contents.substr(bar + 1))};
}

// Rewrites one part into the canonical form, checking it on the way.
//
// Why a pass of our own before kainjow: kainjow knows neither the single-brace
// form nor defaults, accepts any name, reports errors as byte offsets in its own
// input, and would resolve a section and a variable of the same field through the
// same lookup (so it could not tell "empty: skip the section" from "empty: fail
// the recipient"). This pass only finds tags; kainjow still does the Mustache
// semantics: sections, inverted sections, standalone-line rules and escaping.
// The canonical form is a valid kainjow template by construction: literal text
// never contains "{{" (every "{{" starts a tag here) and tag names are slot
// numbers (or kLineMark's "-").
class PartCompiler {
 public:
  PartCompiler(Part part, std::string_view src, const KnownFields& known, std::set<std::string>& used)
      : part_(part), src_(src), known_(known), used_(used), cursor_(src) {}

  Result<CompiledPart> Compile() {
    out_.canonical.reserve(src_.size() + src_.size() / 8);
    size_t i = 0;
    while (i < src_.size()) {
      if (src_.compare(i, 2, "{{") == 0) {
        OUTFLOW_ASSIGN_OR_RETURN(i, DoubleBraceTag(i));
      } else if (src_[i] == '{') {
        OUTFLOW_ASSIGN_OR_RETURN(i, MaybeSingleBraceTag(i));
      } else {
        const size_t next = std::min(src_.find('{', i), src_.size());
        out_.canonical.append(src_.substr(i, next - i));
        i = next;
      }
    }
    if (!open_.empty()) {
      const Slot& s = out_.slots[open_.back()];
      return Error("section '" + s.field + "' opened " + At(s.pos) + " is never closed");
    }
    return std::move(out_);
  }

 private:
  Status Error(std::string_view what) const { return PartError(part_, what); }

  // Parses the tag at `i` (which starts with "{{"); returns the offset after it.
  Result<size_t> DoubleBraceTag(size_t i) {
    const Position pos = cursor_.At(i);
    const bool triple = src_.compare(i, 3, "{{{") == 0;
    const std::string_view opener = triple ? "{{{" : "{{";
    const std::string_view closer = triple ? "}}}" : "}}";
    const size_t body = i + opener.size();
    const size_t end = src_.find(closer, body);
    if (end == std::string_view::npos) {
      return Error("unclosed tag '" + std::string(opener) + "' " + At(pos) + " (no '" + std::string(closer) + "')");
    }
    const std::string_view raw = src_.substr(i, end + closer.size() - i);
    const std::string_view contents = Trim(src_.substr(body, end - body));
    const size_t after = end + closer.size();

    if (triple) {
      OUTFLOW_RETURN_IF_ERROR(Variable(contents, pos, /*escaped=*/false));
      return after;
    }
    if (contents.empty()) return Error("empty tag '" + std::string(raw) + "' " + At(pos));
    const std::string_view rest = contents.substr(1);
    switch (contents.front()) {
      case '!':  // a comment: renders nothing
        out_.canonical += kLineMark;
        return after;
      case '>': return Error("partials are not supported: '" + std::string(raw) + "' " + At(pos));
      case '=': return Error("changing the delimiters is not supported: '" + std::string(raw) + "' " + At(pos));
      case '&': OUTFLOW_RETURN_IF_ERROR(Variable(rest, pos, /*escaped=*/false)); return after;
      case '#':
      case '^': OUTFLOW_RETURN_IF_ERROR(OpenSection(rest, contents.front(), raw, pos)); return after;
      case '/': OUTFLOW_RETURN_IF_ERROR(CloseSection(Trim(rest), raw, pos)); return after;
      default: OUTFLOW_RETURN_IF_ERROR(Variable(contents, pos, /*escaped=*/true)); return after;
    }
  }

  // `{name}` or `{name|default}` at `i` is a variable; any other '{' is literal.
  Result<size_t> MaybeSingleBraceTag(size_t i) {
    size_t k = i + 1;
    if (k < src_.size() && IsIdentStart(src_[k])) {
      while (k < src_.size() && IsIdentChar(src_[k])) ++k;
      size_t close = std::string_view::npos;
      if (k < src_.size() && src_[k] == '}') {
        close = k;
      } else if (k < src_.size() && src_[k] == '|') {
        const size_t c = src_.find_first_of("{}\r\n", k + 1);
        if (c != std::string_view::npos && src_[c] == '}') close = c;
      }
      if (close != std::string_view::npos) {
        OUTFLOW_RETURN_IF_ERROR(Variable(src_.substr(i + 1, close - i - 1), cursor_.At(i), /*escaped=*/true));
        return close + 1;
      }
    }
    out_.canonical.push_back('{');
    return i + 1;
  }

  Status CheckField(std::string_view name, Position pos) {
    if (name.empty()) return Error("missing field name " + At(pos));
    const bool variable = name.starts_with(kVariablePrefix) && name.size() > kVariablePrefix.size();
    if (!variable && known_.find(name) == known_.end()) {
      return Error("unknown field '" + std::string(name) + "' " + At(pos));
    }
    used_.emplace(name);
    return Status::Ok();
  }

  size_t AddSlot(Slot slot) {
    out_.slots.push_back(std::move(slot));
    return out_.slots.size() - 1;
  }

  Status Variable(std::string_view contents, Position pos, bool escaped) {
    const Reference ref = ParseReference(contents);
    OUTFLOW_RETURN_IF_ERROR(CheckField(ref.name, pos));
    Slot slot{false, std::string(ref.name), std::nullopt, pos};
    if (ref.default_value) slot.default_value = std::string(*ref.default_value);
    const std::string key = std::to_string(AddSlot(std::move(slot)));
    out_.canonical += escaped ? "{{" + key + "}}" : "{{{" + key + "}}}";
    return Status::Ok();
  }

  Status OpenSection(std::string_view rest, char sigil, std::string_view raw, Position pos) {
    const Reference ref = ParseReference(rest);
    if (ref.default_value) return Error("a section cannot have a default: '" + std::string(raw) + "' " + At(pos));
    OUTFLOW_RETURN_IF_ERROR(CheckField(ref.name, pos));
    const size_t index = AddSlot(Slot{true, std::string(ref.name), std::nullopt, pos});
    open_.push_back(index);
    out_.canonical += "{{";
    out_.canonical += sigil;
    out_.canonical += std::to_string(index) + "}}";
    return Status::Ok();
  }

  Status CloseSection(std::string_view name, std::string_view raw, Position pos) {
    if (open_.empty()) return Error("'" + std::string(raw) + "' " + At(pos) + " closes no open section");
    const Slot& s = out_.slots[open_.back()];
    if (s.field != name) {
      return Error("'" + std::string(raw) + "' " + At(pos) + " does not close section '" + s.field + "' opened " +
                   At(s.pos));
    }
    out_.canonical += "{{/" + std::to_string(open_.back()) + "}}";
    out_.canonical += kLineMark;
    open_.pop_back();
    return Status::Ok();
  }

  const Part part_;
  const std::string_view src_;
  const KnownFields& known_;
  std::set<std::string>& used_;
  PositionCursor cursor_;
  CompiledPart out_;
  std::vector<size_t> open_;  // slots of the sections open at this point, innermost last
};

// kainjow's own escape writes &apos;, which HTML 4 does not define and some mail
// clients still parse HTML 4; &#39; means the same everywhere.
std::string EscapeHtml(const std::string& s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (const char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string NoEscape(const std::string& s) {
  return s;
}

bool HasLineBreak(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

// Resolves kainjow's lookups of slot names against one contact's values and notes
// what went wrong. Values are flat, so a section's value never becomes a scope:
// push and pop do nothing. One context per render; not shared between threads.
class SlotContext final : public mustache::basic_context<std::string> {
 public:
  SlotContext(const CompiledPart& part, const TemplateValues& values) : part_(part) {
    data_.reserve(part.slots.size());
    missing_.reserve(part.slots.size());
    for (const Slot& s : part.slots) {
      const auto it = values.find(s.field);
      const std::string_view value = it == values.end() ? std::string_view() : std::string_view(it->second);
      if (s.section) {
        data_.emplace_back(!value.empty());
        missing_.push_back(false);
      } else if (!value.empty()) {
        data_.emplace_back(std::string(value));
        missing_.push_back(false);
      } else {
        data_.emplace_back(s.default_value.value_or(std::string()));
        missing_.push_back(!s.default_value.has_value());
      }
    }
  }

  void push(const mustache::data* /*data*/) override {}
  void pop() override {}

  const mustache::data* get(const std::string& name) const override {
    size_t index = 0;
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), index);
    if (ec != std::errc() || end != name.data() + name.size() || index >= data_.size()) return nullptr;
    if (!part_.slots[index].section) {  // a variable is being output
      if (missing_[index] && !first_missing_) first_missing_ = index;
      if (!first_line_break_ && HasLineBreak(data_[index].string_value())) first_line_break_ = index;
    }
    return &data_[index];
  }

  const mustache::data* get_partial(const std::string& /*name*/) const override { return nullptr; }

  // The first variable output with no value and no default.
  const Slot* FirstMissing() const { return first_missing_ ? &part_.slots[*first_missing_] : nullptr; }
  // The first variable output whose value contains CR or LF.
  const Slot* FirstLineBreak() const { return first_line_break_ ? &part_.slots[*first_line_break_] : nullptr; }

 private:
  const CompiledPart& part_;
  std::vector<mustache::data> data_;  // by slot
  std::vector<bool> missing_;         // by slot
  mutable std::optional<size_t> first_missing_;
  mutable std::optional<size_t> first_line_break_;
};

// kainjow's render() is not const, so one parsed template must not serve two
// renders at once; and parsing costs about 20 times a render (1 ms against 50 us
// for 20 KB of html), so parsed templates are kept for reuse rather than parsed
// per recipient. The pool grows to the number of threads rendering at once.
class ParsedPool {
 public:
  explicit ParsedPool(const std::string& canonical, bool html) : canonical_(canonical), html_(html) {}

  // A parsed template for one render; Give it back after. Throws what kainjow throws.
  std::unique_ptr<mustache::mustache> Take() const {
    {
      const std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        auto m = std::move(idle_.back());
        idle_.pop_back();
        return m;
      }
    }
    auto m = std::make_unique<mustache::mustache>(canonical_);
    m->set_custom_escape(html_ ? EscapeHtml : NoEscape);
    return m;
  }

  void Give(std::unique_ptr<mustache::mustache> m) const {
    const std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(std::move(m));
  }

 private:
  const std::string& canonical_;
  const bool html_;
  mutable std::mutex mu_;
  mutable std::vector<std::unique_ptr<mustache::mustache>> idle_;  // GUARDED_BY(mu_)
};

// A compiled part with its parsed templates. Never moved (the pool refers to
// `compiled.canonical`).
struct PreparedPart {
  PreparedPart(Part p, CompiledPart c) : part(p), compiled(std::move(c)), pool(compiled.canonical, p == Part::kHtml) {}
  PreparedPart(const PreparedPart&) = delete;
  PreparedPart& operator=(const PreparedPart&) = delete;

  const Part part;
  const CompiledPart compiled;
  const ParsedPool pool;
};

Result<std::string> RenderPart(const PreparedPart& prepared, const TemplateValues& values) {
  const Part p = prepared.part;
  const CompiledPart& part = prepared.compiled;
  if (part.canonical.empty()) return std::string();
  std::string out;
  std::string engine_error;
  const Slot* missing = nullptr;
  const Slot* line_break = nullptr;
  try {
    std::unique_ptr<mustache::mustache> tmpl = prepared.pool.Take();
    SlotContext ctx(part, values);
    if (tmpl->is_valid()) out = tmpl->render(ctx);
    if (tmpl->is_valid()) {
      prepared.pool.Give(std::move(tmpl));
    } else {
      engine_error = tmpl->error_message();
    }
    missing = ctx.FirstMissing();
    line_break = ctx.FirstLineBreak();
  } catch (const std::exception& e) {
    engine_error = e.what();
  }
  if (!engine_error.empty()) {
    return Status::Internal(std::string(PartName(p)) + ": the template engine failed: " + engine_error);
  }
  if (missing != nullptr) {
    return PartError(p, "field '" + missing->field + "' has no value and no default, " + At(missing->pos));
  }
  if (p == Part::kSubject && HasLineBreak(out)) {
    // The subject as written is one line (checked when compiling), so a value did it.
    if (line_break != nullptr) {
      return PartError(p, "field '" + line_break->field + "' contains a line break, " + At(line_break->pos));
    }
    return PartError(p, "contains a line break");
  }
  return out;
}

Result<CompiledPart> CompilePart(Part p, std::string_view src, const KnownFields& known, std::set<std::string>& used) {
  if (p == Part::kSubject) {
    const size_t br = src.find_first_of("\r\n");
    if (br != std::string_view::npos) {
      return PartError(p, "contains a line break " + At(PositionCursor(src).At(br)) + "; a subject is one line");
    }
  }
  return PartCompiler(p, src, known, used).Compile();
}

// The canonical form is valid by construction; a rejection here is our bug. The
// parsed template is kept for the first render.
Status CheckWithEngine(const PreparedPart& prepared) {
  if (prepared.compiled.canonical.empty()) return Status::Ok();
  std::string engine_error;
  try {
    std::unique_ptr<mustache::mustache> tmpl = prepared.pool.Take();
    if (tmpl->is_valid()) {
      prepared.pool.Give(std::move(tmpl));
    } else {
      engine_error = tmpl->error_message();
    }
  } catch (const std::exception& e) {
    engine_error = e.what();
  }
  if (engine_error.empty()) return Status::Ok();
  return Status::Internal(std::string(PartName(prepared.part)) +
                          ": the template engine rejected the compiled form: " + engine_error);
}

}  // namespace

struct CompiledTemplate::Impl {
  Impl(MessageTemplate t, CompiledPart s, CompiledPart x, CompiledPart h, std::vector<std::string> f)
      : source(std::move(t)),
        subject(Part::kSubject, std::move(s)),
        text(Part::kText, std::move(x)),
        html(Part::kHtml, std::move(h)),
        fields(std::move(f)) {}

  const MessageTemplate source;
  const PreparedPart subject;
  const PreparedPart text;
  const PreparedPart html;
  const std::vector<std::string> fields;  // sorted, unique
};

std::vector<std::string> CompiledTemplate::fields() const {
  return impl_->fields;
}

const MessageTemplate& CompiledTemplate::source() const {
  return impl_->source;
}

Result<CompiledTemplate> CompileTemplate(const MessageTemplate& t, const KnownFields& known_fields) {
  const std::pair<Part, const std::string*> parts[] = {
      {Part::kSubject, &t.subject}, {Part::kText, &t.text}, {Part::kHtml, &t.html}};
  for (const auto& [p, src] : parts) {
    if (src->size() > kMaxTemplatePartBytes) {
      return PartError(p, std::to_string(src->size()) + " bytes, more than the limit of " +
                              std::to_string(kMaxTemplatePartBytes) + " (256 KiB)");
    }
  }
  if (t.text.empty() && t.html.empty()) {
    return Status::InvalidArgument("text, html: both are empty; a template needs a text or an html part");
  }
  std::set<std::string> used;
  OUTFLOW_ASSIGN_OR_RETURN(CompiledPart subject, CompilePart(Part::kSubject, t.subject, known_fields, used));
  OUTFLOW_ASSIGN_OR_RETURN(CompiledPart text, CompilePart(Part::kText, t.text, known_fields, used));
  OUTFLOW_ASSIGN_OR_RETURN(CompiledPart html, CompilePart(Part::kHtml, t.html, known_fields, used));
  auto impl = std::make_shared<const CompiledTemplate::Impl>(t, std::move(subject), std::move(text), std::move(html),
                                                             std::vector<std::string>(used.begin(), used.end()));
  for (const PreparedPart* part : {&impl->subject, &impl->text, &impl->html}) {
    OUTFLOW_RETURN_IF_ERROR(CheckWithEngine(*part));
  }
  return CompiledTemplate(std::move(impl));
}

Result<RenderedMessage> Render(const CompiledTemplate& t, const TemplateValues& values) {
  const CompiledTemplate::Impl& impl = *t.impl_;
  RenderedMessage m;
  OUTFLOW_ASSIGN_OR_RETURN(m.subject, RenderPart(impl.subject, values));
  OUTFLOW_ASSIGN_OR_RETURN(m.text, RenderPart(impl.text, values));
  OUTFLOW_ASSIGN_OR_RETURN(m.html, RenderPart(impl.html, values));
  return m;
}

}  // namespace outflow
