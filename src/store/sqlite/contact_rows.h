// Contact row operations on a connection already inside a transaction, shared by
// the stores whose transactions write contacts (contacts, imports).
#pragma once

#include <span>
#include <vector>

#include "store/contact_store.h"
#include "store/sqlite/db.h"

namespace outflow::sqlite {

// ContactStore::UpsertBatch's semantics, without its own transaction.
// REQUIRES: `c` is the writer, inside BEGIN IMMEDIATE.
Result<std::vector<UpsertOutcome>> UpsertContactsOn(Connection& c, std::span<const Contact> contacts,
                                                    ExistingPolicy policy, Timestamp now);

}  // namespace outflow::sqlite
