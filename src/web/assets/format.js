// How times, durations, commands and statuses read on the page.

export const timeFormat = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit', minute: '2-digit', second: '2-digit',
});
const dayTimeFormat = new Intl.DateTimeFormat(undefined, {
  month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
});
export const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'long' });

export const ACTIVE = new Set(['pending', 'running']);
export const STATUS_LABELS = {
  pending: 'Pending',
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

/** A start time: the time today, the day and time before. */
export function formatStart(date) {
  if (!date) return '—';
  const now = new Date();
  const sameDay = date.getFullYear() === now.getFullYear()
    && date.getMonth() === now.getMonth() && date.getDate() === now.getDate();
  return sameDay ? timeFormat.format(date) : dayTimeFormat.format(date);
}

export function formatDuration(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor(total / 60) % 60;
  const s = total % 60;
  if (h) return `${h}h ${m}m ${s}s`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

/** An argv as a shell would need it typed. */
export function commandText(argv) {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(' ');
}

/** Milliseconds as "5 s" or "2.5 s". */
export const seconds = (ms) => (ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`);

/** What the status badge says. */
export function statusLabel(job) {
  if (ACTIVE.has(job.status) && job.cancel_requested) return 'Cancelling';
  return STATUS_LABELS[job.status] || String(job.status);
}

/** Why a job failed, or ''. */
export function failureText(job) {
  if (job.status !== 'failed') return '';
  return job.failure_reason || (job.exit_code !== null && job.exit_code !== undefined ? `exit code ${job.exit_code}` : '');
}

/** The link to a job's own page. */
export const jobPageUrl = (id) => `/jobs/${encodeURIComponent(id)}`;

/** A job's GPUs: the count, with the device ids once it has them. */
export function gpuText(job) {
  const gpus = job.gpus ?? 0;
  const ids = job.gpu_ids || [];
  return ids.length ? `${gpus} (devices ${ids.join(', ')})` : String(gpus);
}
