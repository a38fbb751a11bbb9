#include "store/sqlite/migrations.h"

namespace outflow::sqlite {

const std::vector<Migration>& AllMigrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "jobs", R"sql(
CREATE TABLE jobs (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  kind             TEXT    NOT NULL,
  state            TEXT    NOT NULL
                   -- OR, not IN: SQLite 3.40 builds a temporary table for an IN list of more than two
                   -- values on every insert and update (measured: half of enqueue's cost)
                   CHECK (state = 'ready' OR state = 'leased' OR state = 'done' OR state = 'retrying' OR
                          state = 'dead' OR state = 'cancelled'),
  due_at           INTEGER NOT NULL,            -- microseconds since the Unix epoch, UTC
  attempts         INTEGER NOT NULL DEFAULT 0,  -- runs started, counted at claim
  max_attempts     INTEGER NOT NULL,
  lease_owner      TEXT,
  lease_expires_at INTEGER,
  idempotency_key  TEXT,
  payload          TEXT    NOT NULL,            -- JSON
  last_error       TEXT,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  started_at       INTEGER,
  finished_at      INTEGER
);
CREATE UNIQUE INDEX jobs_idempotency_key ON jobs(idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_pending_due ON jobs(due_at) WHERE state IN ('ready','retrying');
CREATE INDEX jobs_lease_expiry ON jobs(lease_expires_at) WHERE state = 'leased';
)sql"},
      {2, "contacts", R"sql(
CREATE TABLE custom_fields (
  name       TEXT    PRIMARY KEY,
  type       TEXT    NOT NULL CHECK (type = 'text' OR type = 'number' OR type = 'boolean' OR type = 'date' OR type = 'datetime'),
  label      TEXT    NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE contacts (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  external_id      TEXT,
  email            TEXT,                      -- as given, trimmed
  email_norm       TEXT,                      -- lower-cased: the unique key
  phone            TEXT,                      -- E.164
  first_name       TEXT,
  last_name        TEXT,
  time_zone        TEXT,                      -- IANA name
  locale           TEXT,                      -- BCP 47
  owner            TEXT,
  pipeline_stage   TEXT,
  tier             TEXT,
  engagement_score REAL,
  custom           TEXT    NOT NULL DEFAULT '{}',  -- JSON object: custom field name -> value
  status           TEXT    NOT NULL DEFAULT 'live' CHECK (status IN ('live','staged')),
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX contacts_email ON contacts(email_norm) WHERE email_norm IS NOT NULL;
CREATE UNIQUE INDEX contacts_external_id ON contacts(external_id) WHERE external_id IS NOT NULL;
)sql"},
      {3, "imports", R"sql(
CREATE TABLE imports (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  file_name   TEXT    NOT NULL,
  file_path   TEXT    NOT NULL,
  bytes_total INTEGER NOT NULL,
  options     TEXT    NOT NULL,               -- JSON: ImportOptions
  state       TEXT    NOT NULL
              CHECK (state = 'queued' OR state = 'validating' OR state = 'running' OR state = 'completed' OR
                     state = 'failed' OR state = 'cancelled'),
  rows_total  INTEGER NOT NULL DEFAULT 0,
  header      TEXT    NOT NULL DEFAULT '[]',  -- JSON array of column names
  columns     TEXT    NOT NULL DEFAULT '[]',  -- JSON array: the field each column fills ("" = ignored)
  delimiter   TEXT    NOT NULL DEFAULT '',
  rows_read   INTEGER NOT NULL DEFAULT 0,
  created     INTEGER NOT NULL DEFAULT 0,
  updated     INTEGER NOT NULL DEFAULT 0,
  skipped     INTEGER NOT NULL DEFAULT 0,
  failed      INTEGER NOT NULL DEFAULT 0,
  bytes_done  INTEGER NOT NULL DEFAULT 0,     -- resume point: file offset after the last committed row
  next_line   INTEGER NOT NULL DEFAULT 1,
  next_index  INTEGER NOT NULL DEFAULT 1,
  error       TEXT,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  finished_at INTEGER
);
CREATE TABLE import_errors (
  import_id   INTEGER NOT NULL REFERENCES imports(id) ON DELETE CASCADE,
  row         INTEGER NOT NULL,               -- file line of the record
  column_name TEXT    NOT NULL,
  value       TEXT    NOT NULL,
  reason      TEXT    NOT NULL
);
CREATE INDEX import_errors_by_import ON import_errors(import_id, row);
)sql"},
      {4, "segments", R"sql(
CREATE TABLE segments (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  name         TEXT    NOT NULL UNIQUE,
  kind         TEXT    NOT NULL CHECK (kind IN ('static','dynamic')),
  filter       TEXT,                       -- JSON filter (dynamic only)
  member_count INTEGER NOT NULL DEFAULT 0, -- kept with every membership change
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);
CREATE TABLE segment_members (
  segment_id INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
  contact_id INTEGER NOT NULL,
  joined_at  INTEGER NOT NULL,
  PRIMARY KEY (segment_id, contact_id)
) WITHOUT ROWID;
CREATE INDEX segment_members_by_contact ON segment_members(contact_id, segment_id);
CREATE TABLE segment_events (                -- durable log of joins and leaves, in order
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  segment_id INTEGER NOT NULL,
  contact_id INTEGER NOT NULL,
  change     TEXT    NOT NULL CHECK (change IN ('joined','left')),
  at         INTEGER NOT NULL
);
CREATE TABLE staged_memberships (            -- static segments a staged contact joins on release
  contact_id INTEGER NOT NULL,
  segment_id INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
  PRIMARY KEY (contact_id, segment_id)
) WITHOUT ROWID;
)sql"},
      {5, "release_plans", R"sql(
CREATE TABLE release_plans (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  name             TEXT    NOT NULL UNIQUE,
  per_slot         INTEGER NOT NULL,             -- contacts released per slot (before ramp-up)
  interval_seconds INTEGER NOT NULL,
  ramp_percent     REAL    NOT NULL DEFAULT 0,   -- growth of per_slot per local day
  time_zone        TEXT    NOT NULL,
  windows          TEXT    NOT NULL DEFAULT '[]',-- JSON [[weekday mask, start minute, end minute], ...]
  state            TEXT    NOT NULL CHECK (state = 'active' OR state = 'paused' OR state = 'cancelled' OR state = 'completed'),
  released_total   INTEGER NOT NULL DEFAULT 0,
  started_at       INTEGER NOT NULL,
  next_slot_at     INTEGER NOT NULL,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
);
CREATE TABLE release_log (
  id       INTEGER PRIMARY KEY AUTOINCREMENT,
  plan_id  INTEGER NOT NULL REFERENCES release_plans(id),
  at       INTEGER NOT NULL,
  released INTEGER NOT NULL
);
CREATE INDEX release_log_by_plan ON release_log(plan_id, id);
CREATE INDEX contacts_staged ON contacts(id) WHERE status = 'staged';
)sql"},
      {6, "campaigns", R"sql(
ALTER TABLE contacts ADD COLUMN unsubscribed_at INTEGER;  -- set: no campaign sends to the contact
CREATE TABLE sending_accounts (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  name            TEXT    NOT NULL UNIQUE,
  channel         TEXT    NOT NULL CHECK (channel = 'email' OR channel = 'sms' OR channel = 'whatsapp' OR
                                          channel = 'webhook' OR channel = 'log'),
  provider        TEXT    NOT NULL,
  settings        TEXT    NOT NULL DEFAULT '{}',  -- JSON, no secrets
  credentials     TEXT,                           -- sealed JSON (SecretBox "v1:..."), never returned
  rate_per_second INTEGER NOT NULL,
  burst           INTEGER NOT NULL,
  daily_cap       INTEGER,                        -- NULL: none
  time_zone       TEXT    NOT NULL,
  windows         TEXT    NOT NULL DEFAULT '[]',
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
);
CREATE TABLE account_day_counts (                 -- sends per local day, reserved before sending
  account_id INTEGER NOT NULL REFERENCES sending_accounts(id) ON DELETE CASCADE,
  day        TEXT    NOT NULL,                    -- YYYY-MM-DD in the account's time zone
  sent       INTEGER NOT NULL,
  PRIMARY KEY (account_id, day)
) WITHOUT ROWID;
CREATE TABLE templates (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  name       TEXT    NOT NULL UNIQUE,
  subject    TEXT    NOT NULL DEFAULT '',
  text_body  TEXT    NOT NULL DEFAULT '',
  html_body  TEXT    NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE campaigns (
  id                   INTEGER PRIMARY KEY AUTOINCREMENT,
  name                 TEXT    NOT NULL,
  account_id           INTEGER NOT NULL REFERENCES sending_accounts(id),
  template_id          INTEGER NOT NULL REFERENCES templates(id),
  audience             TEXT    NOT NULL,          -- JSON {"segments":[...],"exclude_segment":id|null}
  scheduled_at         INTEGER,                   -- NULL: now
  time_zone            TEXT    NOT NULL,
  cap_policy           TEXT    NOT NULL CHECK (cap_policy = 'wait' OR cap_policy = 'fail'),
  missed_after_seconds INTEGER,
  max_attempts         INTEGER NOT NULL,
  state                TEXT    NOT NULL
                       CHECK (state = 'draft' OR state = 'scheduled' OR state = 'processing' OR state = 'paused' OR
                              state = 'completed' OR state = 'failed' OR state = 'cancelled'),
  error                TEXT,
  total                INTEGER NOT NULL DEFAULT 0,
  pending              INTEGER NOT NULL DEFAULT 0,
  sent                 INTEGER NOT NULL DEFAULT 0,
  failed               INTEGER NOT NULL DEFAULT 0,
  skipped              INTEGER NOT NULL DEFAULT 0,
  created_at           INTEGER NOT NULL,
  updated_at           INTEGER NOT NULL,
  scheduled_state_at   INTEGER,
  started_at           INTEGER,
  paused_at            INTEGER,
  completed_at         INTEGER,
  failed_at            INTEGER,
  cancelled_at         INTEGER
);
CREATE TABLE campaign_recipients (               -- the ledger: one entry per (campaign, contact)
  campaign_id     INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
  contact_id      INTEGER NOT NULL,
  state           TEXT    NOT NULL CHECK (state = 'pending' OR state = 'sending' OR state = 'sent' OR
                                          state = 'failed' OR state = 'skipped'),
  address         TEXT    NOT NULL DEFAULT '',
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  last_attempt_at INTEGER,
  provider_id     TEXT,
  error           TEXT,
  updated_at      INTEGER NOT NULL,
  PRIMARY KEY (campaign_id, contact_id)
) WITHOUT ROWID;
CREATE INDEX campaign_recipients_due ON campaign_recipients(campaign_id, next_attempt_at, contact_id)
  WHERE state = 'pending';
CREATE INDEX campaign_recipients_sending ON campaign_recipients(campaign_id, contact_id) WHERE state = 'sending';
)sql"},
      {7, "campaigns_active", R"sql(
-- ActiveCampaigns: the campaigns a runner has to look at, in id order, without
-- reading the finished ones (campaigns are never deleted).
CREATE INDEX campaigns_active ON campaigns(id) WHERE state = 'scheduled' OR state = 'processing' OR state = 'paused';
)sql"},
      {8, "outbox", R"sql(
-- One outbox for every message (docs/sending.md). Each producer is a source with
-- its counts; the campaign ledger becomes the campaigns' messages.
CREATE TABLE message_sources (
  account_id INTEGER NOT NULL REFERENCES sending_accounts(id),
  kind       TEXT    NOT NULL,                    -- transactional | journey | rule | schedule | campaign
  source_id  INTEGER NOT NULL,                    -- campaign id; the account's id for transactional sends
  priority   INTEGER NOT NULL,                    -- lower first
  state      TEXT    NOT NULL CHECK (state = 'active' OR state = 'paused' OR state = 'cancelled'),
  total      INTEGER NOT NULL DEFAULT 0,
  pending    INTEGER NOT NULL DEFAULT 0,          -- queued, deferred or sending
  sent       INTEGER NOT NULL DEFAULT 0,
  failed     INTEGER NOT NULL DEFAULT 0,
  skipped    INTEGER NOT NULL DEFAULT 0,
  cancelled  INTEGER NOT NULL DEFAULT 0,
  served_at  INTEGER NOT NULL DEFAULT 0,          -- last claim that took from it (round robin)
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (account_id, kind, source_id)
) WITHOUT ROWID;
CREATE INDEX message_sources_by_source ON message_sources(kind, source_id);
CREATE INDEX message_sources_active ON message_sources(account_id, priority, served_at)
  WHERE state = 'active' AND pending > 0;
CREATE TABLE messages (
  id              INTEGER PRIMARY KEY,
  account_id      INTEGER NOT NULL,
  contact_id      INTEGER NOT NULL,
  template_id     INTEGER NOT NULL,
  variables       TEXT,                           -- JSON object over the contact's values; NULL: none
  address         TEXT    NOT NULL DEFAULT '',    -- frozen when made
  source_kind     TEXT    NOT NULL,
  source_id       INTEGER NOT NULL,
  step            INTEGER NOT NULL DEFAULT 0,
  priority        INTEGER NOT NULL,
  send_at         INTEGER NOT NULL,               -- earliest send (and retry) time
  state           TEXT    NOT NULL CHECK (state = 'queued' OR state = 'deferred' OR state = 'sending' OR
                                          state = 'sent' OR state = 'failed' OR state = 'skipped' OR
                                          state = 'cancelled'),
  attempts        INTEGER NOT NULL DEFAULT 0,
  max_attempts    INTEGER NOT NULL,
  cap_day         TEXT,                           -- the local day its last claim was counted on
  provider_id     TEXT,
  reason          TEXT,
  client_key      TEXT,                           -- a transactional caller's idempotency key
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  last_attempt_at INTEGER,
  sent_at         INTEGER
);
-- A producer cannot make a message twice (a transactional send's step is random);
-- nor can a caller's key within an account.
CREATE UNIQUE INDEX messages_by_source ON messages(source_kind, source_id, contact_id, step);
CREATE UNIQUE INDEX messages_client_key ON messages(account_id, client_key) WHERE client_key IS NOT NULL;
-- A source's messages are all of one account; every index ends with the rowid (id).
CREATE INDEX messages_due ON messages(source_kind, source_id, send_at) WHERE state = 'queued';
CREATE INDEX messages_sending ON messages(account_id) WHERE state = 'sending';
-- A contact's messages. Campaign messages are left out: a fan-out would insert a
-- million entries all over this index (1.4 s of a 1M fan-out, measured); they are
-- found through message_sources and messages_by_source instead.
CREATE INDEX messages_by_contact ON messages(contact_id, id) WHERE source_kind <> 'campaign';
-- Transactional sends name their contact by phone as well as by email.
CREATE INDEX contacts_phone ON contacts(phone) WHERE phone IS NOT NULL;

INSERT INTO messages(account_id, contact_id, template_id, address, source_kind, source_id, step, priority, send_at,
                     state, attempts, max_attempts, provider_id, reason, created_at, updated_at, last_attempt_at)
SELECT c.account_id, r.contact_id, c.template_id, r.address, 'campaign', r.campaign_id, 0, 30,
       CASE r.next_attempt_at WHEN 0 THEN r.updated_at ELSE r.next_attempt_at END,
       CASE WHEN r.state IN ('pending', 'sending') AND c.state = 'cancelled' THEN 'cancelled'
            WHEN r.state IN ('pending', 'sending') THEN 'queued' ELSE r.state END,
       r.attempts, c.max_attempts, r.provider_id, r.error, r.updated_at, r.updated_at, r.last_attempt_at
FROM campaign_recipients r JOIN campaigns c ON c.id = r.campaign_id ORDER BY r.campaign_id, r.contact_id;
UPDATE messages SET sent_at = updated_at WHERE state = 'sent';
INSERT INTO message_sources(account_id, kind, source_id, priority, state, total, pending, sent, failed, skipped,
                            cancelled, updated_at)
SELECT account_id, 'campaign', id, 30,
       CASE state WHEN 'cancelled' THEN 'cancelled' WHEN 'paused' THEN 'paused' WHEN 'failed' THEN 'paused'
                  ELSE 'active' END,
       total, CASE state WHEN 'cancelled' THEN 0 ELSE pending END, sent, failed, skipped,
       CASE state WHEN 'cancelled' THEN pending ELSE 0 END, updated_at
FROM campaigns WHERE started_at IS NOT NULL;
DROP TABLE campaign_recipients;
ALTER TABLE campaigns DROP COLUMN total;
ALTER TABLE campaigns DROP COLUMN pending;
ALTER TABLE campaigns DROP COLUMN sent;
ALTER TABLE campaigns DROP COLUMN failed;
ALTER TABLE campaigns DROP COLUMN skipped;
ALTER TABLE campaigns ADD COLUMN local_send_at TEXT;  -- set: this wall time in each contact's zone
ALTER TABLE sending_accounts ADD COLUMN contact_rules TEXT NOT NULL DEFAULT '{}';  -- codec/contact_rules_json.h
-- Sends to a contact per channel, kept while a frequency cap applies to the account.
CREATE TABLE contact_sends (
  contact_id INTEGER NOT NULL,
  channel    TEXT    NOT NULL,
  sent_at    INTEGER NOT NULL,
  message_id INTEGER NOT NULL,
  PRIMARY KEY (contact_id, channel, sent_at, message_id)
) WITHOUT ROWID;
)sql"},
      // Job counts kept instead of scanned (/metrics), and an index to prune finished jobs by age.
      {9, "job_counts", R"sql(
CREATE TABLE job_counts (
  state TEXT    PRIMARY KEY,
  n     INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO job_counts(state, n)
VALUES ('ready', 0), ('leased', 0), ('done', 0), ('retrying', 0), ('dead', 0), ('cancelled', 0);
UPDATE job_counts SET n = c.n FROM (SELECT state, count(*) AS n FROM jobs GROUP BY state) AS c
WHERE job_counts.state = c.state;
-- In the transaction of every write to jobs, whichever store makes it.
CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs BEGIN
  UPDATE job_counts SET n = n + 1 WHERE state = NEW.state;
END;
CREATE TRIGGER job_counts_update AFTER UPDATE OF state ON jobs WHEN OLD.state <> NEW.state BEGIN
  UPDATE job_counts SET n = n - 1 WHERE state = OLD.state;
  UPDATE job_counts SET n = n + 1 WHERE state = NEW.state;
END;
CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs BEGIN
  UPDATE job_counts SET n = n - 1 WHERE state = OLD.state;
END;
-- finished_at is set exactly for done, dead and cancelled jobs: Prune walks this by age.
CREATE INDEX jobs_finished ON jobs(finished_at) WHERE finished_at IS NOT NULL;
)sql"},
      // Message events from tracking links and provider callbacks, engagement counts,
      // suppressed addresses, and templates that opt out of tracking.
      {10, "tracking", R"sql(
-- The first event of each kind per message (set once, by a conditional update: a
-- message counts once per kind in its source's engagement counts).
ALTER TABLE messages ADD COLUMN delivered_at INTEGER;
ALTER TABLE messages ADD COLUMN opened_at INTEGER;
ALTER TABLE messages ADD COLUMN clicked_at INTEGER;
ALTER TABLE messages ADD COLUMN bounced_at INTEGER;
ALTER TABLE messages ADD COLUMN complained_at INTEGER;
ALTER TABLE messages ADD COLUMN unsubscribed_at INTEGER;
ALTER TABLE message_sources ADD COLUMN delivered INTEGER NOT NULL DEFAULT 0;
ALTER TABLE message_sources ADD COLUMN opened INTEGER NOT NULL DEFAULT 0;
ALTER TABLE message_sources ADD COLUMN clicked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE message_sources ADD COLUMN bounced INTEGER NOT NULL DEFAULT 0;
ALTER TABLE message_sources ADD COLUMN complained INTEGER NOT NULL DEFAULT 0;
ALTER TABLE message_sources ADD COLUMN unsubscribed INTEGER NOT NULL DEFAULT 0;
-- Every recorded event (delivered, opened, clicked, bounced, complained, unsubscribed).
CREATE TABLE message_events (
  id         INTEGER PRIMARY KEY,
  message_id INTEGER NOT NULL,
  kind       TEXT    NOT NULL,
  at         INTEGER NOT NULL,
  detail     TEXT
);
CREATE INDEX message_events_by_message ON message_events(message_id, id);
-- Provider callbacks name a message by the provider's id.
CREATE INDEX messages_by_provider ON messages(account_id, provider_id) WHERE provider_id IS NOT NULL;
-- Addresses never sent to again: a permanent bounce or a complaint.
CREATE TABLE suppressions (
  address    TEXT PRIMARY KEY,
  reason     TEXT    NOT NULL,
  message_id INTEGER,
  at         INTEGER NOT NULL
) WITHOUT ROWID;
ALTER TABLE templates ADD COLUMN tracking INTEGER NOT NULL DEFAULT 1;
)sql"},
      // From this version on, an import, a scheduled
      // campaign and an active release plan are stored with their job in one
      // transaction, and the start-up sweeps that gave a job to one that had none
      // are gone: this gives such rows, left by a crash of an earlier version, the
      // job the sweep would have given (the same kinds, keys and payloads; a key
      // that exists is left as it is, as the sweep did).
      {11, "jobs_for_unqueued_work", R"sql(
INSERT INTO jobs(kind, state, due_at, attempts, max_attempts, idempotency_key, payload, created_at, updated_at)
SELECT 'import.process', 'ready', t.now, 0, 20, 'import-' || i.id, json_object('import_id', i.id), t.now, t.now
FROM imports i, (SELECT CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER) AS now) t
WHERE i.state IN ('queued', 'validating', 'running')
ON CONFLICT(idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING;
INSERT INTO jobs(kind, state, due_at, attempts, max_attempts, idempotency_key, payload, created_at, updated_at)
SELECT 'release.slot', 'ready', p.next_slot_at, 0, 100, 'release-' || p.id || '-' || p.next_slot_at,
       json_object('plan_id', p.id, 'slot_at', p.next_slot_at), t.now, t.now
FROM release_plans p, (SELECT CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER) AS now) t
WHERE p.state = 'active'
ON CONFLICT(idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING;
INSERT INTO jobs(kind, state, due_at, attempts, max_attempts, idempotency_key, payload, created_at, updated_at)
SELECT 'campaign.start', 'ready',
       max(coalesce(c.scheduled_at, coalesce(c.scheduled_state_at, c.created_at)),
           coalesce(c.scheduled_state_at, c.created_at)),
       0, 100, 'campaign-start-' || c.id || '-' || coalesce(c.scheduled_state_at, c.created_at),
       json_object('campaign_id', c.id), t.now, t.now
FROM campaigns c, (SELECT CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER) AS now) t
WHERE c.state = 'scheduled'
ON CONFLICT(idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING;
)sql"},
      // Long work in short transactions (docs/segments.md "Fills", docs/campaigns.md
      // "Fan-out"): a dynamic segment's pass over the contacts and a campaign's
      // fan-out keep their cursor in their row, committed with each chunk.
      {12, "chunked_fills", R"sql(
ALTER TABLE segments ADD COLUMN fill_cursor INTEGER;  -- a pass is under way: the last contact id it handled
ALTER TABLE segments ADD COLUMN filled_at INTEGER;    -- the first fill's end; NULL: still filling
UPDATE segments SET filled_at = updated_at;
ALTER TABLE campaigns ADD COLUMN fanout_cursor INTEGER;  -- a fan-out is under way: the last contact id done
ALTER TABLE campaigns ADD COLUMN fanout_end INTEGER;     -- the highest contact id when it started
-- The first contact per address of a fan-out whose addresses may repeat (phone
-- numbers), kept while the fan-out runs and deleted in chunks when it ends.
CREATE TABLE fanout_addresses (
  campaign_id INTEGER NOT NULL,
  address     TEXT    NOT NULL,
  contact_id  INTEGER NOT NULL,
  PRIMARY KEY (campaign_id, address)
) WITHOUT ROWID;
-- Refresh jobs are now chained in the transaction that starts each refresh; give
-- every dynamic segment one now, so a chain that a crash broke before this
-- version resumes (the handler ends the chain for filters without relative times).
INSERT INTO jobs(kind, state, due_at, attempts, max_attempts, idempotency_key, payload, created_at, updated_at)
SELECT 'segment.refresh', 'ready', CAST(unixepoch() AS INTEGER) * 1000000, 0, 10,
       'segment-refresh-' || id || '-migration-12', '{"segment_id":' || id || '}',
       CAST(unixepoch() AS INTEGER) * 1000000, CAST(unixepoch() AS INTEGER) * 1000000
FROM segments WHERE kind = 'dynamic'
ON CONFLICT(idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING;
)sql"},
      // API keys (docs/security.md): only the SHA-256 of a key is stored, found by the
      // key's non-secret lookup part.
      {13, "api_keys", R"sql(
CREATE TABLE api_keys (
  id           INTEGER PRIMARY KEY,
  lookup       TEXT    NOT NULL UNIQUE,
  name         TEXT    NOT NULL,
  role         TEXT    NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
  hash         TEXT    NOT NULL,
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER,
  revoked_at   INTEGER,
  last_used_at INTEGER
);
)sql"},
      {14, "users", R"sql(
CREATE TABLE users (
  id              INTEGER PRIMARY KEY,
  email           TEXT    NOT NULL UNIQUE COLLATE NOCASE,
  role            TEXT    NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
  password_hash   TEXT,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  disabled_at     INTEGER,
  password_set_at INTEGER,
  last_login_at   INTEGER
);
CREATE TABLE sessions (
  id_hash      TEXT    PRIMARY KEY,
  user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at   INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expiry ON sessions(expires_at);
CREATE TABLE setup_tokens (
  hash       TEXT    PRIMARY KEY,
  user_id    INTEGER REFERENCES users(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at    INTEGER
) WITHOUT ROWID;
CREATE INDEX setup_tokens_user ON setup_tokens(user_id);
CREATE TABLE login_failures (
  email          TEXT    PRIMARY KEY,
  failures       INTEGER NOT NULL CHECK (failures > 0),
  last_failed_at INTEGER NOT NULL,
  locked_until   INTEGER
) WITHOUT ROWID;
CREATE INDEX login_failures_age ON login_failures(last_failed_at);
)sql"},
      // The audit log (docs/security.md): append-only, so an UPDATE is refused by the
      // database itself; only pruning by age deletes. AUTOINCREMENT: an id is never
      // given twice, even after the newest entries were pruned, so paging is stable.
      {15, "audit_log", R"sql(
CREATE TABLE audit_log (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  at          INTEGER NOT NULL,
  actor       TEXT    NOT NULL,
  actor_name  TEXT    NOT NULL,
  action      TEXT    NOT NULL,
  object_type TEXT    NOT NULL,
  object_id   TEXT    NOT NULL,
  address     TEXT    NOT NULL,
  request_id  TEXT    NOT NULL,
  summary     TEXT    NOT NULL
);
CREATE INDEX audit_log_by_time ON audit_log(at);
CREATE INDEX audit_log_by_object ON audit_log(object_type, object_id);
CREATE INDEX audit_log_by_actor ON audit_log(actor);
CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'the audit log is append-only');
END;
)sql"},
  };
  return kMigrations;
}

int LatestSchemaVersion() {
  return AllMigrations().back().version;
}

Result<int> CurrentSchemaVersion(Connection& conn) {
  OUTFLOW_RETURN_IF_ERROR(
      conn.Exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"));
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, conn.Prepare("SELECT coalesce(max(version), 0) FROM schema_migrations"));
  int rc = s->Step();
  if (rc != SQLITE_ROW) return conn.Error(rc, "read schema version");
  int v = static_cast<int>(s->Int(0));
  s->Reset();
  return v;
}

Result<MigrationReport> Migrate(Connection& conn, Timestamp now) {
  MigrationReport report;
  OUTFLOW_ASSIGN_OR_RETURN(report.from_version, CurrentSchemaVersion(conn));
  report.to_version = report.from_version;
  const int latest = LatestSchemaVersion();
  if (report.from_version > latest) {
    return Status::FailedPrecondition("the database was written by a newer Outflow: its schema version is " +
                                      std::to_string(report.from_version) + ", this build knows versions up to " +
                                      std::to_string(latest) + "; upgrade Outflow (migrations only go forward)");
  }
  for (const Migration& m : AllMigrations()) {
    if (m.version <= report.from_version) continue;
    Transaction tx(conn);
    OUTFLOW_RETURN_IF_ERROR(tx.Begin());
    std::string what = "migration " + std::to_string(m.version) + " " + m.name;
    OUTFLOW_RETURN_IF_ERROR(conn.Exec(m.sql).WithContext(what));
    OUTFLOW_ASSIGN_OR_RETURN(Stmt * ins,
                             conn.Prepare("INSERT INTO schema_migrations(version, name, applied_at) VALUES(?,?,?)"));
    ins->Bind(1, m.version);
    ins->Bind(2, std::string_view(m.name));
    ins->Bind(3, ToMicros(now));
    OUTFLOW_RETURN_IF_ERROR(conn.Run(*ins, what));
    OUTFLOW_RETURN_IF_ERROR(conn.Exec("PRAGMA user_version=" + std::to_string(m.version)));
    OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext(what));
    report.to_version = m.version;
    report.applied.push_back(std::to_string(m.version) + " " + m.name);
  }
  return report;
}

}  // namespace outflow::sqlite
