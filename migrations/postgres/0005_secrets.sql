-- Write-only job secrets (issue 13). The names stay on the job for people
-- to see; the values live in their own table, handed to the claiming worker
-- only, and deleted when the job ends: by this trigger, in the very
-- transaction that records the final status, whichever way it ends
-- (finished, cancelled while pending, reaped as lost).
ALTER TABLE jobs ADD COLUMN secret_names JSONB NOT NULL DEFAULT '[]'::jsonb;

CREATE TABLE job_secrets (
    job_id UUID NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    name   TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (job_id, name)
);

CREATE FUNCTION job_secrets_end() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM job_secrets WHERE job_id = NEW.id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER job_secrets_end AFTER UPDATE OF status ON jobs
FOR EACH ROW WHEN (NEW.status IN ('completed', 'failed', 'cancelled'))
EXECUTE FUNCTION job_secrets_end();
