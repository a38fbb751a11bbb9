// How the columns of an import file map to contact fields, and how one row
// becomes a contact. Pure functions over the header, the options and the custom
// field definitions.
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "domain/import.h"

namespace outflow {

// The mapping target of a segment_name column: the row joins that static segment.
inline constexpr std::string_view kSegmentNameField = "segment_name";

// How each column of a header maps to a contact field.
struct ColumnMapping {
  std::vector<std::string> fields;     // per column: standard field, custom field, or "" (ignored)
  std::vector<FieldDefinition> to_create;  // custom fields to define first (create_fields)
};

// Builds the mapping: explicit options.mapping first, then automatic matching of
// normalised names and common aliases ("E-mail Address" -> email, "Surname" ->
// last_name), then create_fields. Errors name the column: a mapping to an unknown
// field, a field mapped twice, a mapping for a column the file does not have.
Result<ColumnMapping> BuildColumnMapping(const std::vector<std::string>& header, const ImportOptions& options,
                                         const std::map<std::string, FieldDefinition, std::less<>>& defs);

// The contact one row describes; errors name the column and the value.
Result<Contact> RowToContact(std::span<const std::string_view> fields, const std::vector<std::string>& header,
                             const ColumnMapping& mapping, const ImportOptions& options,
                             const std::map<std::string, FieldDefinition, std::less<>>& defs, ImportRowError& error);

}  // namespace outflow
