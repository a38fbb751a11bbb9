// JSON form of segment filters, shared by the API (parsing what users send) and
// the SQLite store (persisting filters):
//   {"all": [F, ...]} | {"any": [F, ...]} | {"field": "tier", "op": "equals", "value": "pro"}
//   "in" takes "values": [...]; "empty" and "not_empty" take no value.
#pragma once

#include <boost/json.hpp>

#include "base/status.h"
#include "domain/segment.h"

namespace outflow {

// Parses a filter; errors name the path ("filter.all[1].op").
Result<Filter> FilterFromJson(const boost::json::value& v, std::string_view path = "filter");
boost::json::value FilterToJson(const Filter& f);

}  // namespace outflow
