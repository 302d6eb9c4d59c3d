-- The worker fleet: every worker registers when it starts and is seen again
-- on each claim and heartbeat, so `GET /workers` can say which are alive,
-- draining or gone. Times are the database's clock.
CREATE TABLE workers (
    name       TEXT PRIMARY KEY,
    executor   TEXT NOT NULL,
    slots      INTEGER NOT NULL,
    gpus       INTEGER,
    cpus       INTEGER,
    version    TEXT NOT NULL,
    host       TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    last_seen  TIMESTAMPTZ NOT NULL,
    draining   BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX workers_by_last_seen ON workers (last_seen);
CREATE INDEX jobs_running_by_worker ON jobs (worker) WHERE status = 'running';
