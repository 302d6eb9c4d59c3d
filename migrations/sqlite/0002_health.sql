-- One row that `GET /healthz` rewrites: the api is healthy only when it can
-- write to its database, not merely read from it (a full disk or a
-- read-only file still answers SELECT).
CREATE TABLE health (
    id         INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    checked_at INTEGER NOT NULL  -- microseconds since the Unix epoch, UTC
);
INSERT INTO health (id, checked_at) VALUES (1, 0);
