// Message templates: a campaign's subject, text and html parts, checked once when
// the template is saved and then rendered for each recipient (docs/templates.md).
//
// Syntax: Mustache ({{field}}, {{{field}}}, {{&field}}, {{#field}}..{{/field}},
// {{^field}}..{{/field}}, {{! comment }}), plus two additions:
//   {field}            the single-brace form, exactly {{field}}, but only when `field`
//                      matches [A-Za-z_][A-Za-z0-9_.]* and is followed by '}' or '|';
//                      any other single brace (CSS, JSON) is literal text.
//   {{field|default}}  (and {field|default}) renders `default` when the field is
//                      missing or empty. Whitespace around name and default is ignored.
// Partials and custom delimiters are not supported (a compile error).
//
// Compiling checks everything that does not depend on a contact: the size limits,
// the syntax, that every field is known, and that the subject is one line. Rendering
// fails only for a contact that lacks a field used without a default, or whose
// value would put a line break in the subject; the message names the part and the
// field so that a campaign can fail that one recipient with the reason and go on.
//
// Escaping: in the html part {{field}} and defaults are HTML-escaped (& < > " '),
// {{{field}}} and {{&field}} are not. Nothing is escaped in the subject and text.
// Bytes pass through unchanged (UTF-8 included).
//
// Pure: no I/O. Thread-safety: a CompiledTemplate is immutable; copies are cheap
// (shared) and Render may be called on one from any number of threads at once.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace outflow {

// The parts of a message as the user wrote them. `html` is optional (empty).
struct MessageTemplate {
  std::string subject;
  std::string text;
  std::string html;
};

// The values a template may use, by field name: the standard contact fields
// ("first_name", "last_name", "email", "phone", "owner", "tier", "pipeline_stage",
// "locale", "time_zone", "external_id", "engagement_score") and each custom field
// by its name, built by the caller from a Contact. Missing and empty are the same.
using TemplateValues = std::map<std::string, std::string, std::less<>>;

// A field named "vars.<name>" is a message's own variable (a transactional send's
// `variables`), not a contact field: any such name compiles, and a message that
// lacks it fails to render unless the template gives a default.
inline constexpr std::string_view kVariablePrefix = "vars.";

// Each part's limit, in bytes.
inline constexpr size_t kMaxTemplatePartBytes = 256 * 1024;

struct RenderedMessage {
  std::string subject;
  std::string text;
  std::string html;  // empty when the template has no html part
};

// A template that compiled: it can be rendered for any contact.
class CompiledTemplate {
 public:
  // Every field the template uses (variables and sections, in any part), sorted,
  // each once.
  std::vector<std::string> fields() const;

  // The template as it was given.
  const MessageTemplate& source() const;

  struct Impl;  // opaque; defined in template.cc

 private:
  explicit CompiledTemplate(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  friend Result<CompiledTemplate> CompileTemplate(const MessageTemplate& t,
                                                  const std::set<std::string, std::less<>>& known_fields);
  friend Result<RenderedMessage> Render(const CompiledTemplate& t, const TemplateValues& values);

  std::shared_ptr<const Impl> impl_;  // never null
};

// Compiles and checks a template; errors are InvalidArgument and name the part and
// the position, e.g. "subject: unknown field 'frist_name' at line 1, column 7".
// `known_fields` holds every field name a contact can have (standard and defined
// custom fields). The subject may be empty (channels that need one check it);
// at least one of text and html must not be.
Result<CompiledTemplate> CompileTemplate(const MessageTemplate& t,
                                         const std::set<std::string, std::less<>>& known_fields);

// Renders the template for one contact. Fails with InvalidArgument, naming the
// part and the field, when a field used without a default has no value for this
// contact ("text: field 'first_name' has no value and no default, at line 2,
// column 5"), or when the rendered subject would contain CR or LF. (Internal only
// if the template engine itself fails, which is a bug.)
Result<RenderedMessage> Render(const CompiledTemplate& t, const TemplateValues& values);

}  // namespace outflow
