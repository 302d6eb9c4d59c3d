-- Keyset paging of GET /jobs: every list is ordered by (created_at, id), newest
-- first, and filtered by status and/or owner. Each index ends in the full sort
-- key, so a page is one range scan that stops after `limit` rows however many
-- jobs there are. The unfiltered order is jobs_by_created from 0001
-- (created_at DESC, id DESC). These replace the 0001 indexes that lacked the
-- id: with them, ties on created_at needed a sort of every matching row.
DROP INDEX IF EXISTS jobs_by_owner;
DROP INDEX IF EXISTS jobs_by_status;
CREATE INDEX jobs_by_owner_created ON jobs (owner, created_at, id);
CREATE INDEX jobs_by_status_created ON jobs (status, created_at, id);
