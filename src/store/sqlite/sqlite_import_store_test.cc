// The import store over a real SQLite file: the conformance suite instantiated for
// SQLite (nothing of imports is SQLite-specific beyond what the suite shows).
#include "store/sqlite/sqlite_import_store.h"

#include <gtest/gtest.h>

#include "store/import_store_conformance.h"
#include "store/sqlite/sqlite_store_set.h"

namespace outflow {
namespace {

INSTANTIATE_TEST_SUITE_P(Sqlite, ImportStoreConformance, ::testing::Values(SqliteStoreSet()), SqliteName);

}  // namespace
}  // namespace outflow
