// Prometheus text exposition format 0.0.4 for the engine's metrics.
#include <cstdio>
#include <string>

#include "api/api_handler.h"

namespace outflow::api {

namespace {

void Counter(std::string& out, const char* name, const char* help, uint64_t v) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += " counter\n";
  out += name;
  out += ' ';
  out += std::to_string(v);
  out += '\n';
}

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

}  // namespace

std::string RenderPrometheus(const EngineMetrics& m, const StateCounts* counts) {
  std::string out;
  if (counts != nullptr) {
    out += "# HELP outflow_jobs Jobs in the store by state.\n# TYPE outflow_jobs gauge\n";
    for (JobState s : kAllJobStates) {
      out += "outflow_jobs{state=\"";
      out += JobStateName(s);
      out += "\"} ";
      out += std::to_string((*counts)[static_cast<size_t>(s)]);
      out += '\n';
    }
  }
  Counter(out, "outflow_jobs_enqueued_total", "Jobs created (idempotent replays not counted).", m.enqueued.load());
  Counter(out, "outflow_jobs_completed_total", "Job runs committed as done.", m.completed.load());
  Counter(out, "outflow_jobs_retried_total", "Failed attempts scheduled for a retry.", m.retried.load());
  Counter(out, "outflow_jobs_dead_total", "Jobs that reached the dead state.", m.dead.load());
  Counter(out, "outflow_job_outcomes_stale_total", "Outcomes dropped because the lease was lost first.",
          m.stale.load());
  Counter(out, "outflow_job_leases_recovered_total", "Leases recovered after a crash or an expiry.",
          m.recovered.load());
  Counter(out, "outflow_store_errors_total", "Engine store operations that failed and were retried.",
          m.store_errors.load());
  Histogram::Snapshot h = m.start_lateness.Read();
  out += "# HELP outflow_job_start_lateness_seconds Handler start minus due time.\n";
  out += "# TYPE outflow_job_start_lateness_seconds histogram\n";
  for (size_t i = 0; i < h.bounds.size(); ++i) {
    out += "outflow_job_start_lateness_seconds_bucket{le=\"" + Num(h.bounds[i]) + "\"} " +
           std::to_string(h.cumulative[i]) + "\n";
  }
  out += "outflow_job_start_lateness_seconds_bucket{le=\"+Inf\"} " + std::to_string(h.count) + "\n";
  out += "outflow_job_start_lateness_seconds_sum " + Num(h.sum) + "\n";
  out += "outflow_job_start_lateness_seconds_count " + std::to_string(h.count) + "\n";
  return out;
}

}  // namespace outflow::api
