// JSON mapping of contacts and custom fields for the REST API. Strict: unknown
// fields and wrong types are InvalidArgument errors that name the field.
#pragma once

#include <boost/json.hpp>

#include "base/status.h"
#include "domain/contact.h"

namespace outflow::api {

// Applies the members of `o` to `c`: a member present sets the field, null clears
// it, custom fields merge by name (null removes one). `prefix` names `o` in messages.
Status ApplyContactJson(const boost::json::object& o, Contact& c, std::string_view prefix);
boost::json::object ContactToJson(const Contact& c);
boost::json::object FieldToJson(const FieldDefinition& f);

}  // namespace outflow::api
