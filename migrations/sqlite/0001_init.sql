-- Jobs and tokens. Times are microseconds since the Unix epoch, UTC, so that
-- ordering and comparisons are plain integer ones.
CREATE TABLE jobs (
    id               TEXT PRIMARY KEY NOT NULL,  -- canonical lowercase UUID
    name             TEXT,
    owner            TEXT NOT NULL,
    command          TEXT NOT NULL,              -- JSON array of strings
    cwd              TEXT,
    env              TEXT NOT NULL DEFAULT '{}', -- JSON object of strings
    timeout_seconds  INTEGER,
    status           TEXT NOT NULL
        CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    exit_code        INTEGER,
    failure_reason   TEXT,
    worker           TEXT,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    lease_token      TEXT,
    lease_expires_at INTEGER
);

CREATE INDEX jobs_by_created ON jobs (created_at DESC, id DESC);
CREATE INDEX jobs_by_owner ON jobs (owner, created_at DESC);
CREATE INDEX jobs_by_status ON jobs (status, created_at);
CREATE INDEX jobs_by_lease ON jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX jobs_by_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE tokens (
    name        TEXT PRIMARY KEY NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('user', 'admin', 'worker')),
    key_id      TEXT NOT NULL UNIQUE,
    secret_hash BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);
