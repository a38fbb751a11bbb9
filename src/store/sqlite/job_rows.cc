#include "store/sqlite/job_rows.h"

namespace outflow::sqlite {

namespace {

// The id of the job holding `key`.
Result<JobId> JobIdByKey(Connection& c, const std::string& key) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * sel, c.PrepareStatic("SELECT id FROM jobs WHERE idempotency_key = ?1"));
  sel->BindStatic(1, key);
  const int rc = sel->Step();
  const int64_t id = rc == SQLITE_ROW ? sel->Int(0) : 0;
  sel->Reset();
  if (rc != SQLITE_ROW) return c.Error(rc, "enqueue: look up idempotency key");
  return JobId(id);
}

}  // namespace

Result<std::vector<EnqueueResult>> InsertJobs(Connection& c, std::span<const JobSpec> specs, Timestamp now) {
  std::vector<EnqueueResult> out;
  out.reserve(specs.size());
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * ins, c.PrepareStatic("INSERT INTO jobs(kind, state, due_at, attempts, max_attempts, idempotency_key, "
                                  "payload, created_at, updated_at) "
                                  "VALUES(?1, 'ready', ?2, 0, ?3, ?4, ?5, ?6, ?6) "
                                  "ON CONFLICT(idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING"));
  const int64_t now_us = ToMicros(now);
  for (const JobSpec& spec : specs) {
    ins->BindStatic(1, spec.kind);
    ins->Bind(2, ToMicros(spec.due_at));
    ins->Bind(3, spec.max_attempts);
    if (spec.idempotency_key) {
      ins->BindStatic(4, *spec.idempotency_key);
    } else {
      ins->BindNull(4);
    }
    ins->BindStatic(5, spec.payload);
    ins->Bind(6, now_us);
    const int rc = ins->Step();
    ins->Reset();
    if (rc != SQLITE_DONE) return c.Error(rc, "enqueue");
    if (c.Changes() == 1) {
      out.push_back({JobId(c.LastInsertRowId()), true});
      continue;
    }
    OUTFLOW_ASSIGN_OR_RETURN(JobId existing, JobIdByKey(c, *spec.idempotency_key));
    out.push_back({existing, false});
  }
  return out;
}

}  // namespace outflow::sqlite
