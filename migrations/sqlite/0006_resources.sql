-- Issue 15: what a job needs (gpus, cpus) and the GPU device ids its
-- worker gave it (comma-separated; '' for none; NULL until claimed).
ALTER TABLE jobs ADD COLUMN gpus INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN cpus INTEGER NOT NULL DEFAULT 1;
ALTER TABLE jobs ADD COLUMN gpu_ids TEXT;
