/**
 * The conductor's schema in PostgreSQL, as numbered migrations (from 1, in
 * the table `orch_schema_migrations`). A released step is never edited;
 * changes are new steps. Step 1 is the SQLite schema as of its version 11,
 * in PostgreSQL's words: ids and times (epoch ms) are bigint, JSON is text
 * exactly as the SQLite store keeps it (views cast it to jsonb where they
 * look inside), flags are boolean.
 *
 * @module
 */

/** One schema step. */
export interface PgMigration {
  version: number;
  sql: string;
}

/**
 * The aggregate of the finished job `jobs` (a row being updated), from its
 * tasks, as `aggregateOfCounts` computes it once every task is final (the
 * same as the SQLite store's FINAL_AGGREGATE_SQL).
 */
export const PG_FINAL_AGGREGATE_SQL = `(CASE
  WHEN (jobs.rollout::jsonb ->> 'quorum') IS NOT NULL THEN
    CASE WHEN (SELECT COUNT(*) FROM tasks WHERE tasks.job_id = jobs.id AND tasks.state = 'succeeded')
      >= (jobs.rollout::jsonb ->> 'quorum')::numeric THEN 'success' ELSE 'failure' END
  ELSE (SELECT CASE
      WHEN COUNT(*) > 0 AND COUNT(*) FILTER (WHERE tasks.state = 'succeeded') = COUNT(*)
        THEN 'success'
      WHEN COUNT(*) FILTER (WHERE tasks.state = 'succeeded') = 0 THEN 'failure'
      ELSE 'partial' END
    FROM tasks WHERE tasks.job_id = jobs.id)
END)`;

/** Every step, in order. */
export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE meta (
        key   text PRIMARY KEY,
        value text NOT NULL
      );

      CREATE TABLE jobs (
        id              bigint PRIMARY KEY,
        score           text NOT NULL,
        scope           text NOT NULL CHECK (scope IN ('all', 'one')),
        targets         text NOT NULL,          -- JSON array of player names, in the order given
        params          text NOT NULL,          -- JSON object; a secret key's value is null
        submitted_at    bigint NOT NULL,        -- epoch ms
        submitted_by    text NOT NULL,
        finished_at     bigint,                 -- set once every task is final
        timeout_ms      bigint,
        deadline        bigint,
        retries         integer NOT NULL DEFAULT 0,
        cancelled_at    bigint,
        request_id      text,
        caller          text NOT NULL,          -- JSON of a Caller
        target_count    integer NOT NULL,
        secrets         text,                   -- JSON {key: sealed value or null}, or NULL
        asked           text,                   -- JSON array of target expressions, or NULL
        rollout         text,                   -- JSON JobRollout, or NULL
        schedule        text,
        request_digest  text,
        final_aggregate text,
        pruning         boolean
      );
      CREATE UNIQUE INDEX jobs_by_request ON jobs (request_id) WHERE request_id IS NOT NULL;
      CREATE INDEX jobs_unfinished ON jobs (id) WHERE finished_at IS NULL;
      CREATE INDEX jobs_by_submitter ON jobs (submitted_by, id);
      CREATE INDEX jobs_by_final_aggregate ON jobs (final_aggregate, id)
        WHERE final_aggregate IS NOT NULL;
      CREATE INDEX jobs_by_score ON jobs (score, id);
      CREATE INDEX jobs_by_submitted_at ON jobs (submitted_at);
      CREATE INDEX jobs_by_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
      CREATE INDEX jobs_pruning ON jobs (id) WHERE pruning IS NOT NULL;

      CREATE TABLE tasks (
        id               bigint PRIMARY KEY,
        job_id           bigint NOT NULL REFERENCES jobs (id),
        seq              bigint NOT NULL,
        host             text,
        state            text NOT NULL,
        attempt          integer NOT NULL DEFAULT 0,
        tried            text NOT NULL DEFAULT '[]',
        not_before       bigint,
        failures         integer NOT NULL DEFAULT 0,
        cancel_requested boolean NOT NULL DEFAULT false,
        reason           text,
        updated_at       bigint NOT NULL,
        assigned_at      bigint,
        started_at       bigint,
        ended_at         bigint,
        exit_code        integer,
        signal           text,
        response         text,
        stdout_tail      text,
        stderr_tail      text,
        stdout_dropped   bigint,
        stderr_dropped   bigint
      );
      CREATE INDEX tasks_by_job_state ON tasks (job_id, state);
      CREATE INDEX tasks_by_job_host ON tasks (job_id, host);
      CREATE INDEX tasks_by_seq ON tasks (seq);

      CREATE TABLE attempts (
        task_id        bigint NOT NULL REFERENCES tasks (id),
        attempt        integer NOT NULL,
        player         text NOT NULL,
        state          text NOT NULL,
        assigned_at    bigint NOT NULL,
        started_at     bigint,
        ended_at       bigint,
        exit_code      integer,
        signal         text,
        response       text,
        stdout_tail    text,
        stderr_tail    text,
        error          text,
        stdout_dropped bigint,
        stderr_dropped bigint,
        PRIMARY KEY (task_id, attempt)
      );

      CREATE TABLE players (
        name       text PRIMARY KEY,
        version    text NOT NULL,
        slots      integer NOT NULL,
        scores     text NOT NULL,
        address    text,
        first_seen bigint NOT NULL,
        last_seen  bigint NOT NULL
      );

      CREATE TABLE drained_players (
        name text PRIMARY KEY,
        at   bigint NOT NULL
      );

      CREATE TABLE audit (
        id        bigint PRIMARY KEY,           -- numbered by the store, in order
        at        bigint NOT NULL,
        who       text NOT NULL,
        auth      text NOT NULL,
        transport text NOT NULL,
        from_addr text NOT NULL,
        action    text NOT NULL,
        subject   text NOT NULL,
        job_id    bigint,
        outcome   text NOT NULL CHECK (outcome IN ('allowed', 'refused')),
        reason    text
      );
      CREATE INDEX audit_by_who ON audit (who, id);
      CREATE INDEX audit_by_at ON audit (at);
      CREATE FUNCTION orch_audit_never_edited() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'audit records are never edited'; END $$;
      CREATE TRIGGER audit_never_edited BEFORE UPDATE ON audit
        FOR EACH ROW EXECUTE FUNCTION orch_audit_never_edited();

      CREATE TABLE schedules (
        name         text PRIMARY KEY,
        spec         text NOT NULL,
        policy       text NOT NULL CHECK (policy IN ('catch-up-once', 'skip')),
        job          text NOT NULL,
        owner        text NOT NULL,
        owner_groups text NOT NULL DEFAULT '[]',
        created_at   bigint NOT NULL,
        last_due     bigint,
        enabled      boolean NOT NULL DEFAULT true
      );
    `,
  },
  {
    // Leadership of several conductors on one database: one row, its epoch bumped by each new
    // leader; every write of a leader checks the epoch it took (the fence).
    version: 2,
    sql: `
      CREATE TABLE orch_leader (
        id               integer PRIMARY KEY CHECK (id = 1),
        epoch            bigint NOT NULL,
        name             text,
        player_address   text,
        audience_address text,
        since            bigint
      );
      INSERT INTO orch_leader (id, epoch) VALUES (1, 0);
    `,
  },
];
