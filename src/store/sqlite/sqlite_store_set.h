// The StoreSet of the SQLite stores (SqliteStores over one file), with which the
// sqlite_*_store_test.cc files instantiate the store conformance suites.
#pragma once

#include <memory>
#include <string>

#include "store/sqlite/sqlite_store.h"
#include "store/store_set.h"

namespace outflow {

inline StoreSetFactory SqliteStoreSet() {
  return {"sqlite", [](const std::string& dir, Timestamp now) -> Result<StoreSet> {
            auto s = SqliteStores::Open(dir + "/outflow.db", {}, now);
            if (!s.ok()) return s.status();
            std::shared_ptr<SqliteStores> owner(std::move(s).value());
            StoreSet set;
            set.jobs = &owner->jobs();
            set.contacts = &owner->contacts();
            set.imports = &owner->imports();
            set.segments = &owner->segments();
            set.releases = &owner->releases();
            set.campaigns = &owner->campaigns();
            set.outbox = &owner->outbox();
            set.owner = std::move(owner);
            return set;
          }};
}

inline std::string SqliteName(const ::testing::TestParamInfo<StoreSetFactory>& p) {
  return p.param.name;
}

}  // namespace outflow
