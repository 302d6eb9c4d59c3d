// A job's own page, /jobs/{id}: every field `jobctl show` prints, its log
// panel, Cancel and Download. The job record is read once per refresh while
// the job is pending or running; the log panel follows the log itself.

import { request, jobPath, sentence } from './http.js';
import { ACTIVE, fullFormat, formatDuration, gpuText, seconds, STATUS_LABELS } from './format.js';
import {
  $, announce, loadSession, askToCancel, wireCancelDialog, setBadge, commandText, failureText,
} from './common.js';
import { LogPanel } from './logpanel.js';

let refreshMs = 5000;
let job = null;
let panel = null;
let timer = null;
let failed = false;

const jobId = decodeURIComponent(window.location.pathname.replace(/^\/jobs\//, '').replace(/\/$/, ''));

const time = (t) => (t ? fullFormat.format(new Date(t)) : '—');

/** Fills the `dd` of field `name`; '—' when there is nothing to say. */
function field(name, text) {
  const dd = document.querySelector(`[data-field="${name}"]`);
  dd.textContent = text === null || text === undefined || text === '' ? '—' : String(text);
  return dd;
}

function show(next) {
  const before = job;
  if (before && ACTIVE.has(next.status) && !ACTIVE.has(before.status)) return;
  job = next;
  if (before && before.status !== job.status) {
    announce(`The job is now ${STATUS_LABELS[job.status] || job.status}${failureText(job) ? `: ${failureText(job)}` : ''}`);
  }
  const name = job.name || '(no name)';
  document.title = `${name} · jobctl`;
  $('job-title').textContent = name;
  $('job-title').classList.toggle('unnamed', !job.name);
  setBadge($('job-badge'), job);
  field('id', job.id);
  field('owner', job.owner);
  field('command', commandText(job.command));
  field('cwd', job.cwd);
  const envNames = Object.keys(job.env || {});
  field('env', envNames.join(', ')).title = envNames.length ? 'Only the names are shown; values may be secret.' : '';
  field('timeout', job.timeout_seconds ? `${job.timeout_seconds} s` : null);
  field('gpus', gpuText(job));
  field('cpus', job.cpus ?? 1);
  field('worker', job.worker);
  field('created', time(job.created_at));
  field('started', time(job.started_at));
  field('finished', time(job.finished_at));
  field('duration', job.started_at
    ? formatDuration((job.finished_at ? new Date(job.finished_at) : new Date()) - new Date(job.started_at))
    : null);
  field('exit-code', job.exit_code);
  field('failure-reason', job.failure_reason);
  const pending = field('pending-reason', job.pending_reason);
  pending.closest('.field-row').hidden = !job.pending_reason;
  $('job-cancel').hidden = !ACTIVE.has(job.status) || job.cancel_requested;
  $('job-page').hidden = false;
  $('job-loading').hidden = true;
  panel.setStatus(job);
}

async function refresh() {
  clearTimeout(timer);
  try {
    show(await request('GET', jobPath(jobId)));
    failed = false;
    $('page-error').hidden = true;
  } catch (e) {
    if (e.status === 401) return;
    if (e.status === 404 || e.status === 400) {
      $('job-loading').hidden = true;
      $('job-page').hidden = true;
      const missing = $('job-missing');
      missing.hidden = false;
      return;
    }
    failed = true;
    $('job-loading').hidden = true;
    const error = $('page-error');
    error.textContent = `Could not refresh the job: ${sentence(e.message)} Retrying every ${seconds(refreshMs)}.`;
    error.hidden = false;
  }
  if (failed || !job || ACTIVE.has(job.status)) timer = setTimeout(refresh, refreshMs);
}

async function cancel() {
  const button = $('job-cancel');
  button.disabled = true;
  try {
    show(await request('POST', `${jobPath(jobId)}/cancel`));
  } catch (e) {
    if (e.status !== 401) panel.showError('Could not cancel the job', e);
  } finally {
    button.disabled = false;
  }
}

function wireCopy() {
  const button = $('copy-id');
  const done = (text) => {
    $('copy-status').textContent = text;
    announce(text);
  };
  button.addEventListener('click', async () => {
    const text = job ? job.id : jobId;
    try {
      await navigator.clipboard.writeText(text);
      done('Copied');
    } catch (e) {
      // No clipboard API (a plain-HTTP page that is not localhost): select the id for Ctrl+C.
      const range = document.createRange();
      range.selectNodeContents(document.querySelector('[data-field="id"]'));
      const sel = document.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      done('Selected: press Ctrl+C to copy');
    }
  });
}

async function start() {
  wireCancelDialog();
  wireCopy();
  const root = $('job-log');
  root.replaceChildren($('log-panel-template').content.cloneNode(true));
  panel = new LogPanel(root.querySelector('.log-panel'), jobId, {
    refreshMs: () => refreshMs,
    setOpen: () => {},
    onFinished: () => refresh(),
  });
  // On its own page the log is the point: it counts as opened by the user.
  panel.touch();
  $('job-cancel').addEventListener('click', () => {
    if (job) askToCancel(job, cancel);
  });
  const session = await loadSession();
  refreshMs = Math.max(100, session.refresh_interval_ms);
  await refresh();
  if (job) panel.opened(false);
}

start();
