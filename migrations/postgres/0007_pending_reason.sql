-- Why a claimed job is not running yet (a Slurm worker's job waiting in
-- Slurm's queue says so through its heartbeats). NULL when there is nothing
-- to say; issue 15 uses the same column for pending jobs no worker can fit.
ALTER TABLE jobs ADD COLUMN pending_reason TEXT;
