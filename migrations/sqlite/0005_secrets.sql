-- Write-only job secrets (issue 13). The names stay on the job for people
-- to see; the values live in their own table, handed to the claiming worker
-- only, and deleted when the job ends: by this trigger, in the very
-- transaction that records the final status, whichever way it ends
-- (finished, cancelled while pending, reaped as lost). The store opens the
-- file with `PRAGMA secure_delete = ON`, so deleted values are overwritten
-- rather than left in free pages.
ALTER TABLE jobs ADD COLUMN secret_names TEXT NOT NULL DEFAULT '[]'; -- JSON array, sorted

CREATE TABLE job_secrets (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    name   TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (job_id, name)
);

CREATE TRIGGER job_secrets_end AFTER UPDATE OF status ON jobs
WHEN NEW.status IN ('completed', 'failed', 'cancelled')
BEGIN
    DELETE FROM job_secrets WHERE job_id = NEW.id;
END;
