-- Jobs and tokens, for several api replicas sharing one database.
CREATE TABLE jobs (
    id               UUID PRIMARY KEY,
    name             TEXT,
    owner            TEXT NOT NULL,
    command          JSONB NOT NULL,
    cwd              TEXT,
    env              JSONB NOT NULL DEFAULT '{}'::jsonb,
    timeout_seconds  BIGINT,
    status           TEXT NOT NULL
        CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    exit_code        INTEGER,
    failure_reason   TEXT,
    worker           TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    started_at       TIMESTAMPTZ,
    finished_at      TIMESTAMPTZ,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    lease_token      TEXT,
    lease_expires_at TIMESTAMPTZ
);

CREATE INDEX jobs_by_created ON jobs (created_at DESC, id DESC);
CREATE INDEX jobs_by_owner ON jobs (owner, created_at DESC);
CREATE INDEX jobs_pending ON jobs (created_at, id) WHERE status = 'pending';
CREATE INDEX jobs_by_lease ON jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX jobs_by_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE tokens (
    name        TEXT PRIMARY KEY,
    role        TEXT NOT NULL CHECK (role IN ('user', 'admin', 'worker')),
    key_id      TEXT NOT NULL UNIQUE,
    secret_hash BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
