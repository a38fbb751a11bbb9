// Contact row operations on a connection already inside a transaction, shared by
// the stores whose transactions write contacts (contacts, imports).
#pragma once

#include <span>
#include <vector>

#include "store/contact_store.h"
#include "store/sqlite/db.h"
#include "store/sqlite/segment_rows.h"

namespace outflow::sqlite {

// The columns ReadContact expects, in order.
inline constexpr std::string_view kContactColumns =
    "id, external_id, email, phone, first_name, last_name, time_zone, locale, owner, pipeline_stage, tier, "
    "engagement_score, custom, status, created_at, updated_at";
Result<Contact> ReadContact(const Stmt& s);

// ContactStore::UpsertBatch's semantics, without its own transaction; keeps the
// dynamic segments' memberships in step. REQUIRES: `c` is the writer, inside BEGIN IMMEDIATE.
Result<std::vector<UpsertOutcome>> UpsertContactsOn(Connection& c, std::span<const Contact> contacts,
                                                    ExistingPolicy policy, Timestamp now, DynamicSegments& segments);

}  // namespace outflow::sqlite
