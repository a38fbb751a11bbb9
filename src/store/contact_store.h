// ContactStore: contacts and custom field definitions, the storage port that the
// contact service sees. Same contract style as JobStore:
//  - Each method is one transaction: it applies whole or not at all.
//  - Contacts are unique by normalised email and by external id; a write that
//    would break that is Conflict, naming the contact that holds the value.
//  - Values arrive validated (NormalizeAndValidateContact); the store keeps them.
//  - Update holds the contact from its read to its write (its transaction; a row
//    lock where writers run concurrently): concurrent updates of one contact
//    never lose one another's changes. Uniqueness holds under racing writers.
//  - No contract relies on there being one writer.
//  - Transient failures are Unavailable; the caller may retry.
// Thread-safety: all methods may be called concurrently from any thread.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "domain/contact.h"

namespace outflow {

struct ContactFilter {
  std::optional<std::string> email;  // compared normalised
  std::optional<std::string> phone;  // E.164, as stored
  std::optional<std::string> external_id;
  std::optional<std::string> owner;
  std::optional<std::string> pipeline_stage;
  std::optional<std::string> tier;
  std::optional<ContactStatus> status;
  ContactId after;  // keyset paging: ids greater than this
  int limit = 100;
};

struct ContactPage {
  std::vector<Contact> contacts;  // ascending id
  std::optional<ContactId> next_after;
};

// What to do when an upserted contact matches an existing one.
enum class ExistingPolicy { kUpdate, kSkip, kFail };

struct UpsertOutcome {
  enum class Kind { kCreated, kUpdated, kSkipped, kFailed };
  Kind kind = Kind::kCreated;
  ContactId id;
  std::string error;  // kFailed: why
};

class ContactStore {
 public:
  virtual ~ContactStore() = default;

  // Defines a custom field. Defining it again with the same type returns the
  // existing definition; with another type is Conflict.
  virtual Result<FieldDefinition> DefineField(const FieldDefinition& def, Timestamp now) = 0;
  virtual Result<std::vector<FieldDefinition>> ListFields() = 0;

  virtual Result<Contact> Create(const Contact& contact, Timestamp now) = 0;
  virtual Result<Contact> Get(ContactId id) = 0;
  // Reads the contact, lets `mutate` change it (and validate: a non-ok Status
  // aborts), and writes it back, all in one transaction.
  virtual Result<Contact> Update(ContactId id, const std::function<Status(Contact&)>& mutate, Timestamp now) = 0;
  // Removes the contact and its segment memberships (logging each leave).
  virtual Status Delete(ContactId id, Timestamp now) = 0;
  virtual Result<ContactPage> List(const ContactFilter& filter) = 0;
  virtual Result<int64_t> Count(const ContactFilter& filter) = 0;

  // Creates or merges each contact, in one transaction. A contact matches an
  // existing one by external_id, else by email. kUpdate overwrites the fields the
  // incoming contact sets (custom fields merged by name); kSkip leaves it; kFail
  // reports the row failed. A row that conflicts with another contact's unique
  // values fails alone; the others still apply.
  virtual Result<std::vector<UpsertOutcome>> UpsertBatch(std::span<const Contact> contacts, ExistingPolicy policy,
                                                         Timestamp now) = 0;
};

}  // namespace outflow
