// Jobs inserted on a connection inside a transaction, so that a store method
// commits its domain change and the jobs that change needs together (no
// start-up sweep repairs a gap between two transactions).
// NOTE(merge): a local stand-in for the InsertJobs helper landing beside it
// (REVIEW.md 2b); the same contract as SqliteJobStore::Enqueue's insert.
#pragma once

#include <span>

#include "domain/job.h"
#include "store/sqlite/db.h"

namespace outflow::sqlite {

// Inserts `specs` as ready jobs; a spec whose idempotency key exists already is
// skipped (the existing job stands). Returns how many were created.
// REQUIRES: a transaction is open on `c` (the writer).
Result<int64_t> InsertJobs(Connection& c, std::span<const JobSpec> specs, Timestamp now);

}  // namespace outflow::sqlite
