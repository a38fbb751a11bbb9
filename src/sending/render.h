// Rendering one outbox message: the template values of its contact, overlaid with
// the message's own variables ("vars.<name>", see campaigns/template.h).
#pragma once

#include <string_view>

#include "campaigns/template.h"
#include "domain/contact.h"

namespace outflow {

// The values a template may use, from a contact.
TemplateValues ContactTemplateValues(const Contact& c);

// The contact's values plus each member of `variables_json` (a JSON object; strings,
// numbers and booleans) as "vars.<name>". InvalidArgument for text that is not such an object.
Result<TemplateValues> MessageTemplateValues(const Contact& c, std::string_view variables_json);

// Checks a message's variables as the API takes them: a JSON object of at most
// kMaxVariablesBytes whose values are strings, numbers or booleans. Errors name `field`.
Status ValidateVariables(std::string_view variables_json, std::string_view field);

// The name to put beside the address ("Ann Lee").
std::string DisplayName(const Contact& c);

}  // namespace outflow
