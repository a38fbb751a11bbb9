// SqliteContactStore: the ContactStore over the embedded SQLite database, sharing
// its writer with the other stores (database.h). Thread-safe.
#pragma once

#include <memory>

#include "store/contact_store.h"

namespace outflow {

namespace sqlite {
class Database;
class Connection;
class DynamicSegments;
}  // namespace sqlite

class SqliteContactStore final : public ContactStore {
 public:
  // `segments`: the dynamic segment cache shared with the other stores of `db`
  // (SqliteStores passes it); null makes a private one.
  explicit SqliteContactStore(std::shared_ptr<sqlite::Database> db,
                              std::shared_ptr<sqlite::DynamicSegments> segments = nullptr);
  ~SqliteContactStore() override;

  Result<FieldDefinition> DefineField(const FieldDefinition& def, Timestamp now) override;
  Result<std::vector<FieldDefinition>> ListFields() override;
  Result<Contact> Create(const Contact& contact, Timestamp now) override;
  Result<Contact> Get(ContactId id) override;
  Result<Contact> Update(ContactId id, const std::function<Status(Contact&)>& mutate, Timestamp now) override;
  Status Delete(ContactId id, Timestamp now) override;
  Result<ContactPage> List(const ContactFilter& filter) override;
  Result<int64_t> Count(const ContactFilter& filter) override;
  Result<std::vector<UpsertOutcome>> UpsertBatch(std::span<const Contact> contacts, ExistingPolicy policy,
                                                 Timestamp now) override;

 private:
  std::shared_ptr<sqlite::Database> db_;
  std::shared_ptr<sqlite::DynamicSegments> segments_;
};

}  // namespace outflow
