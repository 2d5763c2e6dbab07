-- petri run store, schema version 3 (kept in PRAGMA user_version).
CREATE TABLE IF NOT EXISTS jobs (
    id            INTEGER PRIMARY KEY,
    kind          TEXT    NOT NULL,
    spec          TEXT    NOT NULL,                -- JSON, a pure description of the work
    key           TEXT    NOT NULL UNIQUE,         -- idempotency key: one row per piece of work
    state         TEXT    NOT NULL DEFAULT 'queued'
                  CHECK (state IN ('queued', 'running', 'done', 'failed')),
    priority      INTEGER NOT NULL DEFAULT 0,
    attempts      INTEGER NOT NULL DEFAULT 0,      -- counted when claimed, so a crash uses one up
    max_attempts  INTEGER NOT NULL DEFAULT 3,
    lease         INTEGER NOT NULL DEFAULT 0,      -- fencing token, bumped at every claim
    not_before    REAL    NOT NULL DEFAULT 0,      -- retry backoff
    worker        TEXT,
    device        TEXT,
    pid           INTEGER,
    pid_start     TEXT,                            -- process start time, to tell reused pids apart
    created       REAL    NOT NULL,
    started       REAL,
    finished      REAL,
    fail_class    TEXT,
    error         TEXT,
    result        TEXT                             -- JSON
);
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (state, priority DESC, id);

CREATE TABLE IF NOT EXISTS attempts (
    job_id   INTEGER NOT NULL REFERENCES jobs (id),
    n        INTEGER NOT NULL,
    lease    INTEGER NOT NULL,
    worker   TEXT,
    device   TEXT,
    started  REAL NOT NULL,
    ended    REAL,
    outcome  TEXT,                                 -- ok | infra | deterministic | stopped
    error    TEXT,
    PRIMARY KEY (job_id, lease)
);

CREATE TABLE IF NOT EXISTS points (
    id               INTEGER PRIMARY KEY,
    key              TEXT    NOT NULL UNIQUE,      -- idempotent ingest
    job_id           INTEGER REFERENCES jobs (id),
    desc             TEXT,                         -- JSON ModelDesc (absent for fake jobs)
    params           INTEGER,
    macs             INTEGER,
    activation_bytes INTEGER,
    val_error        REAL,                         -- NULL when the job kept no validation split
    test_error       REAL,                         -- set only by evaluation jobs
    parent           INTEGER REFERENCES points (id),
    lineage          TEXT,                         -- JSON: how it was grown
    stage            TEXT,
    budget           REAL,                         -- training budget spent (epochs or steps)
    checkpoint       TEXT,
    created          REAL    NOT NULL,
    latency_ms       REAL,                         -- measured on the run's latency target
    latency          TEXT                          -- JSON: that measurement and its target
);

CREATE TABLE IF NOT EXISTS events (
    id      INTEGER PRIMARY KEY,
    t       REAL NOT NULL,
    kind    TEXT NOT NULL,
    job_id  INTEGER,
    message TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Written only when a run is created: its point ids follow the algorithm's plan (a point's
-- ordinal). A run begun by an older petri lacks the row and keeps numbering points as they
-- land, so resuming it never has a planned id clash with one it already gave out.
INSERT INTO meta (key, value) VALUES ('point_ids', 'plan');
