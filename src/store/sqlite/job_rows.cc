#include "store/sqlite/job_rows.h"

namespace outflow::sqlite {

Result<int64_t> InsertJobs(Connection& c, std::span<const JobSpec> specs, Timestamp now) {
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * ins,
      c.PrepareStatic(
          "INSERT INTO jobs(kind, state, due_at, attempts, max_attempts, idempotency_key, payload, created_at, "
          "updated_at) VALUES(?1, 'ready', ?2, 0, ?3, ?4, ?5, ?6, ?6) "
          "ON CONFLICT(idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING"));
  int64_t created = 0;
  for (const JobSpec& spec : specs) {
    ins->Bind(1, std::string_view(spec.kind));
    ins->Bind(2, ToMicros(spec.due_at));
    ins->Bind(3, spec.max_attempts);
    ins->Bind(4, spec.idempotency_key);
    ins->Bind(5, std::string_view(spec.payload));
    ins->Bind(6, ToMicros(now));
    OUTFLOW_RETURN_IF_ERROR(c.Run(*ins, "insert job"));
    created += c.Changes();
  }
  return created;
}

}  // namespace outflow::sqlite
