// Jobs written on a connection inside a transaction, so that a store method can
// enqueue the jobs its change needs in the same transaction as the change itself
// (a campaign and its start job, an import and its job): a crash can then never
// leave the one without the other.
#pragma once

#include <span>
#include <vector>

#include "store/job_store.h"
#include "store/sqlite/db.h"

namespace outflow::sqlite {

// Inserts each spec as a ready job; one whose idempotency key is present already
// (in the table or earlier in `specs`) is not inserted again and reports the
// existing id with created=false. REQUIRES: an open write transaction on `c`, and
// every spec passed ValidateJobSpec.
Result<std::vector<EnqueueResult>> InsertJobs(Connection& c, std::span<const JobSpec> specs, Timestamp now);

}  // namespace outflow::sqlite
