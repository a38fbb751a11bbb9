// ContactService: the one code path through which contacts and custom fields are
// created, read, changed and deleted, shared by the REST API, the CLI (through
// the API) and imports.
//
// It validates and normalises every write against the custom field definitions
// (cached, refreshed when a field is defined), and coerces text values of
// number, boolean, date and datetime fields to their type, as a CSV cell or a
// CLI flag gives them. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <span>
#include <vector>

#include "base/clock.h"
#include "store/contact_store.h"

namespace outflow {

inline constexpr int kMaxContactListLimit = 1000;
inline constexpr size_t kMaxUpsertBatch = 10'000;

class ContactService {
 public:
  ContactService(ContactStore& store, Clock& clock) : store_(store), clock_(clock) {}

  Result<FieldDefinition> DefineField(FieldDefinition def);
  Result<std::vector<FieldDefinition>> ListFields();

  // Validates `c` (prefix names it in messages) without writing anything.
  Status Validate(Contact& c, std::string_view prefix);
  Result<Contact> Create(Contact c);
  Result<Contact> Get(ContactId id) { return store_.Get(id); }
  // Applies `patch` to the stored contact, validates, and writes, atomically.
  Result<Contact> Update(ContactId id, const std::function<Status(Contact&)>& patch);
  Status Delete(ContactId id) { return store_.Delete(id, clock_.Now()); }
  Result<ContactPage> List(const ContactFilter& filter);
  Result<int64_t> Count(const ContactFilter& filter) { return store_.Count(filter); }
  // Validates each row; an invalid row fails alone (its outcome says why) and the
  // valid rows are upserted in one transaction. Messages name rows
  // "<batch_name>[i].field", or just "field" when batch_name is empty.
  Result<std::vector<UpsertOutcome>> Upsert(std::vector<Contact> contacts, ExistingPolicy policy,
                                            std::string_view batch_name);

  Clock& clock() { return clock_; }

  using Defs = std::map<std::string, FieldDefinition, std::less<>>;
  // The custom field definitions, cached until a field is defined.
  Result<Defs> Definitions();
  // Validate() against definitions the caller already holds (for bulk work).
  static Status ValidateWith(Contact& c, const Defs& defs, std::string_view prefix);

 private:
  static Status Coerce(Contact& c, const Defs& defs, std::string_view prefix);

  ContactStore& store_;
  Clock& clock_;
  std::mutex mu_;
  std::optional<Defs> defs_;  // GUARDED_BY(mu_); reset when a field is defined
};

}  // namespace outflow
