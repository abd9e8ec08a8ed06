/**
 * The conductor database's schema, as numbered migrations. A released step
 * is never edited; changes are new steps.
 *
 * @module
 */

import type { Migration } from "./db.ts";

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
];
