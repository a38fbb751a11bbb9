// The outbox conformance suite instantiated for SQLite.
#include "store/sqlite/sqlite_outbox_store.h"

#include "store/outbox_store_conformance.h"
#include "store/sqlite/sqlite_store.h"

namespace outflow {
namespace {

INSTANTIATE_TEST_SUITE_P(Sqlite, OutboxStoreConformance,
                         ::testing::Values(OutboxStoreFactory{
                             "sqlite",
                             [](const std::string& dir, Timestamp now) -> Result<OutboxStores> {
                               auto s = SqliteStores::Open(dir + "/outflow.db", {}, now);
                               if (!s.ok()) return s.status();
                               std::shared_ptr<SqliteStores> owner(std::move(s).value());
                               OutboxStores out;
                               out.outbox = &owner->outbox();
                               out.campaigns = &owner->campaigns();
                               out.contacts = &owner->contacts();
                               out.owner = owner;
                               return out;
                             }}),
                         [](const ::testing::TestParamInfo<OutboxStoreFactory>& p) { return p.param.name; });

}  // namespace
}  // namespace outflow
