-- Keyset paging of GET /jobs: every list is ordered by (created_at, id), newest
-- first, and filtered by status and/or owner. Each index ends in the full sort
-- key, so a page is one range scan that stops after `limit` rows however many
-- jobs there are. The unfiltered order is jobs_by_created from 0001
-- (created_at DESC, id DESC); jobs_pending stays for claims. This replaces
-- 0001's owner index, which lacked the id.
DROP INDEX IF EXISTS jobs_by_owner;
CREATE INDEX jobs_by_owner_created ON jobs (owner, created_at, id);
CREATE INDEX jobs_by_status_created ON jobs (status, created_at, id);
