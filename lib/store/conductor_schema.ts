/**
 * The conductor database's schema, as numbered migrations. A released step
 * is never edited; changes are new steps.
 *
 * @module
 */

import type { Migration } from "./db.ts";

/**
 * The aggregate of the finished job `jobs` (a row being updated), from its
 * tasks, as `aggregateOfCounts` (lib/protocol/states.ts) computes it once every task is final:
 * with a quorum, success when that many succeeded; else success when every
 * task succeeded, failure when none did, partial otherwise.
 */
export const FINAL_AGGREGATE_SQL = `(CASE
  WHEN json_extract(jobs.rollout, '$.quorum') IS NOT NULL THEN
    CASE WHEN (SELECT COUNT(*) FROM tasks WHERE tasks.job_id = jobs.id AND tasks.state = 'succeeded')
      >= json_extract(jobs.rollout, '$.quorum') THEN 'success' ELSE 'failure' END
  ELSE (SELECT CASE
      WHEN COUNT(*) > 0 AND SUM(tasks.state = 'succeeded') = COUNT(*) THEN 'success'
      WHEN IFNULL(SUM(tasks.state = 'succeeded'), 0) = 0 THEN 'failure'
      ELSE 'partial' END
    FROM tasks WHERE tasks.job_id = jobs.id)
END)`;

/** Every step, in order. */
export const CONDUCTOR_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT;

      CREATE TABLE jobs (
        id           INTEGER PRIMARY KEY,
        score        TEXT NOT NULL,
        scope        TEXT NOT NULL CHECK (scope IN ('all', 'one')),
        targets      TEXT NOT NULL,            -- JSON array of player names, in the order given
        params       TEXT NOT NULL,            -- JSON object of strings
        submitted_at INTEGER NOT NULL,         -- epoch ms
        submitted_by TEXT NOT NULL,
        finished_at  INTEGER                   -- set once every task is final
      ) STRICT;

      CREATE TABLE tasks (
        id         INTEGER PRIMARY KEY,
        job_id     INTEGER NOT NULL REFERENCES jobs (id),
        host       TEXT,                       -- all-of: the target; one-of: where it was placed
        state      TEXT NOT NULL,
        seq        INTEGER NOT NULL,           -- queue order; a task put back at the head gets a lower one
        attempt    INTEGER NOT NULL DEFAULT 0, -- the current (latest) attempt, 0 before the first
        tried      TEXT NOT NULL DEFAULT '[]', -- one-of: JSON [{player, code, message}] that refused it
        reason     TEXT,                       -- why it is in its state, when the state does not say
        updated_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX tasks_by_job ON tasks (job_id);
      CREATE INDEX tasks_open ON tasks (state) WHERE state IN ('queued', 'assigned', 'running');

      CREATE TABLE attempts (
        task_id     INTEGER NOT NULL REFERENCES tasks (id),
        attempt     INTEGER NOT NULL,
        player      TEXT NOT NULL,
        state       TEXT NOT NULL,             -- assigned, running, rejected, or an outcome
        assigned_at INTEGER NOT NULL,
        started_at  INTEGER,
        ended_at    INTEGER,
        exit_code   INTEGER,
        signal      TEXT,
        response    TEXT,                      -- JSON object
        stdout_tail TEXT,
        stderr_tail TEXT,
        error       TEXT,
        PRIMARY KEY (task_id, attempt)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE players (
        name       TEXT PRIMARY KEY,
        version    TEXT NOT NULL,
        slots      INTEGER NOT NULL,
        scores     TEXT NOT NULL,              -- JSON array of ScoreInfo, as last announced
        address    TEXT,
        first_seen INTEGER NOT NULL,
        last_seen  INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 2,
    sql: `
      ALTER TABLE jobs ADD COLUMN timeout_ms INTEGER;        -- asked for by the job; null: the score's default
      ALTER TABLE jobs ADD COLUMN deadline INTEGER;          -- epoch ms; a task not started by then ends expired
      ALTER TABLE jobs ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE jobs ADD COLUMN cancelled_at INTEGER;
      ALTER TABLE tasks ADD COLUMN not_before INTEGER;       -- a retry waits until then (epoch ms)
      ALTER TABLE tasks ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;  -- attempts that ran and did not succeed
      ALTER TABLE tasks ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 3,
    sql: `
      -- Chosen by the client for each submit: a submit sent again (its answer lost) finds its job.
      ALTER TABLE jobs ADD COLUMN request_id TEXT;
      CREATE UNIQUE INDEX jobs_by_request ON jobs (request_id) WHERE request_id IS NOT NULL;
    `,
  },
  {
    version: 4,
    sql: `
      -- The current attempt of a task lives on the task row, so that one write of the task
      -- records it; attempts keeps only history: attempts that are over and are not their
      -- task's current one. Each fact has one column:
      --   tasks.reason      why the task is in its state; for a task a run ended, what went wrong
      --                     with that run (the player's error). Views show it as the task's reason
      --                     and, once the task is final, as its current attempt's error.
      --   tasks.assigned_at when the current attempt (number attempt) was sent to host;
      --                     null when the task has no current attempt (before the first, or after
      --                     its last one went to history).
      --   tasks.started_at, ended_at, exit_code, signal, response (JSON object), stdout_tail,
      --   stderr_tail       the current attempt's run and result; stdout_tail is null until a
      --                     result was reported ('' when the score printed nothing), which is how
      --                     "no result" differs from "a result of nothing".
      ALTER TABLE tasks ADD COLUMN assigned_at INTEGER;
      ALTER TABLE tasks ADD COLUMN started_at INTEGER;
      ALTER TABLE tasks ADD COLUMN ended_at INTEGER;
      ALTER TABLE tasks ADD COLUMN exit_code INTEGER;
      ALTER TABLE tasks ADD COLUMN signal TEXT;
      ALTER TABLE tasks ADD COLUMN response TEXT;
      ALTER TABLE tasks ADD COLUMN stdout_tail TEXT;
      ALTER TABLE tasks ADD COLUMN stderr_tail TEXT;

      -- Before version 4 a task's reason was shown as "the task's reason, else its latest
      -- attempt's error": fold the error in, so the reason reads the same.
      UPDATE tasks SET reason = a.error
        FROM attempts a
        WHERE tasks.reason IS NULL AND a.task_id = tasks.id AND a.attempt = tasks.attempt
          AND a.error IS NOT NULL;

      -- The latest attempt becomes the task's current one when the task is in the state that
      -- attempt is in (assigned, running, or the outcome the task ended with). One that ended
      -- otherwise (rejected, or failed and the task went back to the queue or expired) is over
      -- and stays history, with its own state.
      UPDATE tasks SET assigned_at = a.assigned_at, started_at = a.started_at,
          ended_at = a.ended_at, exit_code = a.exit_code, signal = a.signal,
          response = a.response, stdout_tail = a.stdout_tail, stderr_tail = a.stderr_tail
        FROM attempts a
        WHERE a.task_id = tasks.id AND a.attempt = tasks.attempt AND a.state = tasks.state;
      DELETE FROM attempts WHERE EXISTS (
        SELECT 1 FROM tasks t
        WHERE t.id = attempts.task_id AND t.attempt = attempts.attempt AND t.state = attempts.state
      );

      -- Who submitted, as JSON of a Caller ({transport, name, auth}); never null from version 4
      -- on. submitted_by stays as its one-line label (callerLabel), which lists show.
      -- Before version 4 only the label was kept: 'local' came from the Unix socket and
      -- 'audience:NAME' from an audience certificate.
      ALTER TABLE jobs ADD COLUMN caller TEXT;
      UPDATE jobs SET caller = CASE
        WHEN substr(submitted_by, 1, 9) = 'audience:'
          THEN json_object('transport', 'https', 'name', substr(submitted_by, 10),
            'auth', 'client_certificate')
        ELSE json_object('transport', 'socket', 'name', submitted_by, 'auth', 'socket_mode')
      END;
      -- How many targets targets holds, so that views need not parse the list.
      ALTER TABLE jobs ADD COLUMN target_count INTEGER NOT NULL DEFAULT 0;
      UPDATE jobs SET target_count = json_array_length(targets);

      -- Views: a job's tasks in id order (tasks_by_job is (job_id) and so ordered by id within
      -- a job), by state (counts, the state filter), by host (the host filter).
      CREATE INDEX tasks_by_job_state ON tasks (job_id, state);
      CREATE INDEX tasks_by_job_host ON tasks (job_id, host);
      -- Start-up: open work is found through the jobs not finished (a handful), then their
      -- open tasks through tasks_by_job_state; the old index of open tasks by state goes.
      DROP INDEX tasks_open;
      CREATE INDEX jobs_unfinished ON jobs (id) WHERE finished_at IS NULL;
      -- The lowest and highest queue position in use, without a scan.
      CREATE INDEX tasks_by_seq ON tasks (seq);
    `,
  },
  {
    version: 5,
    sql: `
      -- The audit trail: who did or tried what, how they proved who they are, from where, and
      -- what came of it. Appended, never edited (the trigger refuses updates); kept longer than
      -- the jobs it speaks of.
      CREATE TABLE audit (
        id        INTEGER PRIMARY KEY,
        at        INTEGER NOT NULL,            -- epoch ms
        who       TEXT NOT NULL,               -- audience:NAME, local:USER, player:NAME, unauthenticated
        auth      TEXT NOT NULL,               -- client_certificate, file_ownership, …
        transport TEXT NOT NULL,               -- socket, https, players
        from_addr TEXT NOT NULL,               -- remote address, or socket
        action    TEXT NOT NULL,
        subject   TEXT NOT NULL,
        job_id    INTEGER,
        outcome   TEXT NOT NULL CHECK (outcome IN ('allowed', 'refused')),
        reason    TEXT
      ) STRICT;
      CREATE INDEX audit_by_who ON audit (who, id);
      CREATE INDEX audit_by_at ON audit (at);
      CREATE TRIGGER audit_never_edited BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit records are never edited'); END;

      -- A caller without the grant to read others' jobs lists only its own.
      CREATE INDEX jobs_by_submitter ON jobs (submitted_by, id);

      -- Secret parameters: jobs.params holds null for each (its value is never stored in clear);
      -- secrets is a JSON object of each secret key with its value sealed under the conductor's
      -- secrets_key (AES-256-GCM, "v1:" + base64 of nonce, ciphertext and tag), or null when the
      -- value was held in the conductor's memory only. NULL for a job without secrets.
      ALTER TABLE jobs ADD COLUMN secrets TEXT;
    `,
  },
  {
    version: 6,
    sql: `
      -- The target expressions a job was submitted with (names, globs, selectors), as a JSON
      -- array; targets holds the hosts they chose at submit. NULL: the same as targets (jobs
      -- from before version 6, and jobs that named hosts only).
      ALTER TABLE jobs ADD COLUMN asked TEXT;
    `,
  },
  {
    version: 7,
    sql: `
      -- A job's rollout rules (JSON JobRollout: quorum, batch, max_errors, batch_wait_ms, amounts
      -- resolved to counts at submit), or NULL for a job without any.
      ALTER TABLE jobs ADD COLUMN rollout TEXT;
      -- Players an operator drained: no new work goes to them until undrained. Apart from
      -- players (a row there exists only once a player connected; a drain may come first).
      CREATE TABLE drained_players (
        name TEXT PRIMARY KEY,
        at   INTEGER NOT NULL              -- epoch ms of the drain
      ) STRICT;
    `,
  },
  {
    version: 8,
    sql: `
      -- Schedules: a job template submitted at each due time. last_due is the last due time
      -- fired (or skipped); it is written in the same commit as the job that due time made.
      CREATE TABLE schedules (
        name        TEXT PRIMARY KEY,
        spec        TEXT NOT NULL,             -- JSON {cron, timezone} or {every_ms}
        policy      TEXT NOT NULL CHECK (policy IN ('catch-up-once', 'skip')),
        job         TEXT NOT NULL,             -- JSON {score, scope, targets, params, timeout_ms, retries}
        owner       TEXT NOT NULL,             -- JSON of a Caller: who added it; runs are submitted as it
        owner_groups TEXT NOT NULL DEFAULT '[]',
        created_at  INTEGER NOT NULL,
        last_due    INTEGER,
        enabled     INTEGER NOT NULL DEFAULT 1
      ) STRICT;
      -- The schedule a job was submitted by; null for a job submitted by hand.
      ALTER TABLE jobs ADD COLUMN schedule TEXT;
    `,
  },
  {
    version: 9,
    sql: `
      -- Output is kept head and tail: the bytes of each stream dropped between them. Null
      -- without a result; null or 0 for results stored before.
      ALTER TABLE tasks ADD COLUMN stdout_dropped INTEGER;
      ALTER TABLE tasks ADD COLUMN stderr_dropped INTEGER;
      ALTER TABLE attempts ADD COLUMN stdout_dropped INTEGER;
      ALTER TABLE attempts ADD COLUMN stderr_dropped INTEGER;
    `,
  },
  {
    version: 10,
    sql: `
      -- A digest (SHA-256, hex) of the submit that made the job, over a canonical form of the
      -- request: score, scope, targets as asked, params, every option. Secret params count by key
      -- only: a digest of a secret value would let anyone holding the file test guesses. A
      -- request id sent again with another digest is refused. NULL: stored before version 10.
      ALTER TABLE jobs ADD COLUMN request_digest TEXT;
      -- The aggregate a finished job ended with (success, partial, failure), written when it is
      -- marked finished, so that lists filter by it through an index; NULL while it is open.
      ALTER TABLE jobs ADD COLUMN final_aggregate TEXT;
      UPDATE jobs SET final_aggregate = ${FINAL_AGGREGATE_SQL} WHERE finished_at IS NOT NULL;
      -- Filters of the job list, each newest first.
      CREATE INDEX jobs_by_final_aggregate ON jobs (final_aggregate, id)
        WHERE final_aggregate IS NOT NULL;
      CREATE INDEX jobs_by_score ON jobs (score, id);
      CREATE INDEX jobs_by_submitted_at ON jobs (submitted_at);
    `,
  },
  {
    version: 11,
    sql: `
      -- Retention: finished jobs are found oldest first, without a scan; open jobs are not in
      -- the index at all.
      CREATE INDEX jobs_by_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
      -- 1 while a finished job is being pruned over several write batches (it has more rows
      -- than one batch removes): views no longer show it, and the next batch finishes it first.
      ALTER TABLE jobs ADD COLUMN pruning INTEGER;
      CREATE INDEX jobs_pruning ON jobs (id) WHERE pruning IS NOT NULL;
    `,
  },
];
