-- The worker fleet: every worker registers when it starts and is seen again
-- on each claim and heartbeat, so `GET /workers` can say which are alive,
-- draining or gone. Times are microseconds since the Unix epoch, UTC.
CREATE TABLE workers (
    name       TEXT PRIMARY KEY NOT NULL,
    executor   TEXT NOT NULL,
    slots      INTEGER NOT NULL,
    gpus       INTEGER,
    cpus       INTEGER,
    version    TEXT NOT NULL,
    host       TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    draining   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX workers_by_last_seen ON workers (last_seen);
CREATE INDEX jobs_running_by_worker ON jobs (worker) WHERE status = 'running';
