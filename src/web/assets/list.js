// The jobs page: the submit form, the Live section (every pending and
// running job the viewer may see), the Finished jobs paged by cursor, and
// the filters, kept in the URL so a filtered view can be bookmarked.

import { request, sentence } from './http.js';
import {
  ACTIVE, STATUS_LABELS, timeFormat, fullFormat, formatStart, formatDuration, seconds, jobPageUrl,
} from './format.js';
import {
  $, announce, loadSession, askToCancel, wireCancelDialog, setBadge, commandText, failureText,
} from './common.js';
import { LogPanel } from './logpanel.js';

/** Finished jobs per page ("Load more" fetches the next). */
const FINISHED_PAGE = 50;
/** Live jobs per request; the Live section pages through all of them. */
const LIVE_PAGE = 500;
/** Pages of live jobs read per refresh at most. */
const LIVE_PAGES = 20;
/** Pages read to close the gap when many jobs finished between two refreshes. */
const GAP_PAGES = 5;
/** Jobs that ended on screen kept in the Live section when Finished has no place for them yet. */
const MAX_ENDED_IN_LIVE = 20;
/** How often the list refreshes while nothing is live. */
const IDLE_REFRESH_MS = 30000;

const TERMINAL = ['completed', 'failed', 'cancelled'];
const LIVE_STATUSES = ['pending', 'running'];

let refreshMs = 5000;
let isAdmin = false;
/** Job id → JobRow in the Live section. */
const liveRows = new Map();
/** Job id → JobRow in the Finished section, in page order. */
const finishedRows = new Map();
/** Cursor of the next older finished page; null when all are shown. */
let finishedCursor = null;
let finishedLoaded = false;
let listTimer = null;
let listBusy = false;
let listAgain = false;
let listFailed = false;
let listUpdated = null;
let clockTimer = null;
/** Bumped when the filters change: answers to older requests are dropped. */
let generation = 0;

/** The filters, as in the URL: `status` (comma list), `owner`, `q`. */
const filters = { status: [], owner: '', q: '' };

/** `a` sorts before `b` in the list (newer first). */
const newer = (a, b) => (a.created_at === b.created_at ? a.id > b.id : a.created_at > b.created_at);

/** A job's row and its log panel. */
class JobRow {
  constructor(job) {
    const fragment = $('job-template').content.cloneNode(true);
    this.el = fragment.querySelector('.job');
    const slot = this.el.querySelector('.log-panel-slot');
    slot.replaceWith($('log-panel-template').content.cloneNode(true));
    this.id = job.id;
    this.job = null;
    /** A terminal status was seen: the job can never be active again. */
    this.ended = false;
    const q = (sel) => this.el.querySelector(sel);
    this.nameEl = q('.job-name');
    this.commandEl = q('.job-command');
    this.idEl = q('.job-id');
    this.ownerEl = q('.cell-owner');
    this.badgeEl = q('.badge');
    this.reasonEl = q('.reason');
    this.startedEl = q('.cell-started');
    this.durationEl = q('.cell-duration');
    this.cancelButton = q('.cancel');
    this.el.dataset.jobId = job.id;
    this.nameEl.href = jobPageUrl(job.id);
    this.panel = new LogPanel(q('.log-panel'), job.id, {
      refreshMs: () => refreshMs,
      setOpen: (open) => { this.el.open = open; },
      onFinished: () => this.finished(),
    });
    this.cancelButton.addEventListener('click', (ev) => {
      // The button sits in the row that opens and closes the panel.
      ev.preventDefault();
      ev.stopPropagation();
      askToCancel(this.job, () => this.cancel());
    });
    this.nameEl.addEventListener('click', (ev) => ev.stopPropagation());
    q('.job-row').addEventListener('click', () => this.panel.touch());
    this.el.addEventListener('toggle', () => {
      if (this.el.open) this.panel.opened(false);
    });
    this.update(job);
  }

  isActive() {
    return this.job !== null && ACTIVE.has(this.job.status);
  }

  /** Shows a (newer) job record. */
  update(job) {
    const active = ACTIVE.has(job.status);
    // A list fetched before the job ended may arrive after: a status never goes back.
    if (active && this.ended) return;
    if (!active) this.ended = true;
    const before = this.job;
    this.job = job;
    if (before && (before.status !== job.status || before.cancel_requested !== job.cancel_requested)) {
      announce(`${job.name || job.id.slice(0, 8)}: ${STATUS_LABELS[job.status] || job.status}${failureText(job) ? `, ${failureText(job)}` : ''}`);
    }
    this.nameEl.textContent = job.name || '(no name)';
    this.nameEl.classList.toggle('unnamed', !job.name);
    this.nameEl.title = job.name || '';
    const command = commandText(job.command);
    this.commandEl.textContent = command;
    this.commandEl.title = command;
    this.idEl.textContent = job.id.slice(0, 8);
    this.idEl.title = job.id;
    this.ownerEl.textContent = job.owner;
    setBadge(this.badgeEl, job);
    // Why it failed, or why a live job is not doing work yet (e.g. queued in Slurm).
    const reason = failureText(job) || (active ? (job.pending_reason || '') : '');
    this.reasonEl.textContent = reason;
    this.reasonEl.title = reason;
    const started = job.started_at ? new Date(job.started_at) : null;
    this.startedEl.textContent = formatStart(started);
    this.startedEl.title = started ? fullFormat.format(started) : 'Not started yet';
    this.tick();
    this.cancelButton.hidden = !active || job.cancel_requested;
    this.el.classList.toggle('is-active', active);
    this.panel.setStatus(job);
  }

  /** Updates the running time. */
  tick() {
    const job = this.job;
    if (!job.started_at) {
      this.durationEl.textContent = '—';
      return;
    }
    const end = job.finished_at ? new Date(job.finished_at) : new Date();
    this.durationEl.textContent = formatDuration(end - new Date(job.started_at));
  }

  async finished() {
    try {
      this.update(await request('GET', `/ui/api/jobs/${encodeURIComponent(this.id)}`));
    } catch (e) {
      // The next list refresh brings the final record.
    }
    refreshListSoon();
  }

  async cancel() {
    this.cancelButton.disabled = true;
    try {
      this.update(await request('POST', `/ui/api/jobs/${encodeURIComponent(this.id)}/cancel`));
      refreshListSoon();
    } catch (e) {
      if (e.status !== 401) this.panel.showError('Could not cancel the job', e);
    } finally {
      this.cancelButton.disabled = false;
    }
  }

  dispose() {
    this.panel.dispose();
    this.el.remove();
  }
}

/** Moves a row, keeping its log box's scroll position (a move resets it). */
function place(row, parent, before) {
  if (row.el.parentNode === parent && (row.el === before || row.el.nextSibling === before)) return;
  const top = row.panel.box.scrollTop;
  parent.insertBefore(row.el, before);
  row.panel.box.scrollTop = top;
}

// ------------------------------------------------------------- filters

function readFilters() {
  const params = new URLSearchParams(window.location.search);
  const status = (params.get('status') || '').split(',').map((s) => s.trim()).filter((s) => STATUS_LABELS[s]);
  filters.status = status;
  filters.owner = params.get('owner') || '';
  filters.q = params.get('q') || '';
  $('filter-status').value = [...$('filter-status').options].some((o) => o.value === status.join(','))
    ? status.join(',') : (status.length ? addStatusOption(status.join(',')) : '');
  $('filter-owner').value = filters.owner;
  $('filter-q').value = filters.q;
}

/** An option for a status list that the select does not offer (from a hand-made URL). */
function addStatusOption(value) {
  const option = document.createElement('option');
  option.value = value;
  option.textContent = value.split(',').map((s) => STATUS_LABELS[s]).join(' or ');
  $('filter-status').appendChild(option);
  return value;
}

function applyFilters() {
  filters.status = $('filter-status').value.split(',').filter((s) => STATUS_LABELS[s]);
  filters.owner = isAdmin ? $('filter-owner').value.trim() : '';
  filters.q = $('filter-q').value.trim();
  const params = new URLSearchParams();
  if (filters.status.length) params.set('status', filters.status.join(','));
  if (filters.owner) params.set('owner', filters.owner);
  if (filters.q) params.set('q', filters.q);
  const search = params.toString();
  window.history.replaceState(null, '', search ? `?${search}` : window.location.pathname);
  generation += 1;
  for (const row of [...liveRows.values(), ...finishedRows.values()]) row.dispose();
  liveRows.clear();
  finishedRows.clear();
  finishedCursor = null;
  finishedLoaded = false;
  $('jobs-loading').hidden = false;
  $('jobs-empty').hidden = true;
  refreshList();
}

const filtered = () => filters.status.length > 0 || filters.owner !== '' || filters.q !== '';

function wanted(statuses) {
  return filters.status.length ? statuses.filter((s) => filters.status.includes(s)) : statuses;
}

function listUrl(statuses, cursor, limit) {
  const params = new URLSearchParams({ status: statuses.join(','), limit: String(limit) });
  if (filters.owner) params.set('owner', filters.owner);
  if (filters.q) params.set('q', filters.q);
  if (cursor) params.set('cursor', cursor);
  return `/ui/api/jobs?${params}`;
}

// ---------------------------------------------------------------- list

/** Every live job that matches the filters, all pages of them. */
async function fetchLive() {
  const statuses = wanted(LIVE_STATUSES);
  if (statuses.length === 0) return [];
  const jobs = [];
  let cursor = null;
  for (let n = 0; n < LIVE_PAGES; n++) {
    const page = await request('GET', listUrl(statuses, cursor, LIVE_PAGE));
    jobs.push(...page.jobs);
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return jobs;
}

/** The newest finished jobs, down to one already shown (or a fresh first page). */
async function fetchFinishedNewest() {
  const statuses = wanted(TERMINAL);
  if (statuses.length === 0) return null;
  const pages = [];
  let cursor = null;
  for (let n = 0; n < (finishedLoaded ? GAP_PAGES : 1); n++) {
    const page = await request('GET', listUrl(statuses, cursor, FINISHED_PAGE));
    pages.push(page);
    cursor = page.next_cursor;
    if (!cursor || page.jobs.some((j) => finishedRows.has(j.id))) break;
  }
  return pages;
}

function renderLive(jobs) {
  const list = $('live-list');
  const seen = new Set();
  let previous = null;
  for (const job of jobs) {
    seen.add(job.id);
    let row = liveRows.get(job.id);
    if (row) {
      row.update(job);
    } else {
      row = finishedRows.get(job.id);
      if (row) finishedRows.delete(job.id);
      else row = new JobRow(job);
      liveRows.set(job.id, row);
    }
    place(row, list, previous ? previous.nextSibling : list.firstChild);
    previous = row.el;
  }
  for (const [id, row] of liveRows) {
    if (seen.has(id)) continue;
    // A panel the user works with stays where it is until the page is left.
    if (row.panel.touched) continue;
    if (row.isActive()) {
      // It ended between two looks: its final record comes with its panel's last read.
      row.finished();
    }
    if (placeable(row)) {
      liveRows.delete(id);
      toFinished(row);
    }
  }
  // A job that ended on screen but is older than the finished rows loaded
  // stays in view a while rather than vanish; the oldest such go first.
  const ended = [...liveRows.values()].filter((r) => !seen.has(r.id) && !r.panel.touched);
  for (const row of ended.slice(MAX_ENDED_IN_LIVE)) {
    liveRows.delete(row.id);
    row.dispose();
  }
  const live = [...liveRows.values()].filter((r) => r.isActive()).length;
  $('live-count').textContent = live ? `(${live})` : '';
  $('live-empty').hidden = liveRows.size > 0;
}

/** Whether a row that left Live has its place among the finished rows loaded. */
function placeable(row) {
  if (!finishedLoaded) return false;
  return !finishedCursor || [...finishedRows.values()].some((r) => newer(row.job, r.job));
}

/** Puts a row that left Live in its place among the finished rows. */
function toFinished(row) {
  const terminal = wanted(TERMINAL);
  if (terminal.length === 0 || (!ACTIVE.has(row.job.status) && !terminal.includes(row.job.status))) {
    row.dispose();
    return;
  }
  const after = [...finishedRows.values()].find((r) => newer(row.job, r.job));
  finishedRows.set(row.id, row);
  place(row, $('finished-list'), after ? after.el : null);
}

function renderFinished(pages) {
  const list = $('finished-list');
  if (pages === null) {
    $('finished-section').hidden = true;
    return;
  }
  $('finished-section').hidden = false;
  const jobs = pages.flatMap((p) => p.jobs).filter((j) => !liveRows.has(j.id));
  const last = pages[pages.length - 1];
  const joined = !finishedLoaded || jobs.some((j) => finishedRows.has(j.id)) || !last.next_cursor;
  if (!joined) {
    // More jobs finished than the pages read: start over from the newest.
    for (const row of finishedRows.values()) row.dispose();
    finishedRows.clear();
  }
  if (!finishedLoaded || !joined) finishedCursor = last.next_cursor;
  finishedLoaded = true;
  let anchor = list.firstChild;
  for (const job of jobs) {
    const row = finishedRows.get(job.id);
    if (row) {
      row.update(job);
      anchor = row.el.nextSibling;
      continue;
    }
    const fresh = new JobRow(job);
    finishedRows.set(job.id, fresh);
    // Newer than everything below the anchor: the pages come newest first.
    let before = anchor;
    while (before && before.dataset && newerRow(before, job)) before = before.nextSibling;
    list.insertBefore(fresh.el, before);
    anchor = fresh.el.nextSibling;
  }
  showMore();
}

/** Whether the row element `el` is newer than `job` (so `job` goes after it). */
function newerRow(el, job) {
  const row = finishedRows.get(el.dataset.jobId);
  return row ? newer(row.job, job) : false;
}

function showMore() {
  $('finished-more').hidden = !finishedCursor;
  $('finished-end').hidden = Boolean(finishedCursor) || finishedRows.size === 0;
  $('finished-empty').hidden = finishedRows.size > 0;
}

/** "Load more": the next older page of finished jobs. */
async function loadMore() {
  if (!finishedCursor) return;
  const button = $('finished-more');
  const gen = generation;
  button.disabled = true;
  try {
    const page = await request('GET', listUrl(wanted(TERMINAL), finishedCursor, FINISHED_PAGE));
    if (gen !== generation) return;
    const list = $('finished-list');
    for (const job of page.jobs) {
      if (finishedRows.has(job.id) || liveRows.has(job.id)) continue;
      const row = new JobRow(job);
      finishedRows.set(job.id, row);
      list.appendChild(row.el);
    }
    finishedCursor = page.next_cursor;
    $('list-error').hidden = true;
  } catch (e) {
    if (e.status !== 401) showListError('Could not load older jobs', e);
  } finally {
    button.disabled = false;
    showMore();
  }
}

function showListError(prefix, e) {
  const error = $('list-error');
  error.textContent = `${prefix}: ${sentence(e.message)} Retrying every ${seconds(refreshMs)}.`;
  error.hidden = false;
}

const anyActive = () => [...liveRows.values()].some((r) => r.isActive() || r.panel.live);

/** Refreshes the list now, then again in 5 s while jobs are live, else in 30 s. */
async function refreshList() {
  clearTimeout(listTimer);
  listTimer = null;
  if (listBusy) {
    listAgain = true;
    return;
  }
  listBusy = true;
  const gen = generation;
  try {
    const [live, finished] = await Promise.all([fetchLive(), fetchFinishedNewest()]);
    if (gen === generation) {
      renderLive(live);
      renderFinished(finished);
      $('live-section').hidden = wanted(LIVE_STATUSES).length === 0;
      $('jobs-loading').hidden = true;
      const nothing = liveRows.size === 0 && finishedRows.size === 0;
      $('jobs-empty').hidden = !nothing || filtered();
      $('finished-empty').textContent = filtered() ? 'No finished jobs match these filters.' : 'No finished jobs yet.';
      if (listFailed) announce('The job list is up to date again.');
      listFailed = false;
      $('list-error').hidden = true;
      listUpdated = new Date();
    }
  } catch (e) {
    if (e.status !== 401) {
      if (!listFailed) announce('The job list cannot be refreshed.');
      listFailed = true;
      $('jobs-loading').hidden = true;
      showListError('Could not refresh the job list', e);
    }
  } finally {
    listBusy = false;
  }
  if (listAgain) {
    listAgain = false;
    refreshList();
    return;
  }
  const live = anyActive();
  const every = listFailed || live ? refreshMs : IDLE_REFRESH_MS;
  listTimer = setTimeout(refreshList, every);
  let text = '';
  if (listFailed) {
    text = listUpdated ? `Last updated ${timeFormat.format(listUpdated)} · connection lost, retrying every ${seconds(refreshMs)}` : `Connection lost · retrying every ${seconds(refreshMs)}`;
  } else if (listUpdated) {
    const why = live ? ' while jobs run' : '';
    text = `Updated ${timeFormat.format(listUpdated)} · refreshing every ${seconds(every)}${why}`;
  }
  $('list-updated').textContent = text;
  runClock();
}

function refreshListSoon() {
  clearTimeout(listTimer);
  listTimer = setTimeout(refreshList, 250);
}

/** Ticks running jobs' durations once a second, only while some job runs. */
function runClock() {
  const running = [...liveRows.values()].some((r) => r.job && r.job.status === 'running');
  if (running && clockTimer === null) {
    clockTimer = setInterval(() => {
      for (const r of liveRows.values()) if (r.job.status === 'running') r.tick();
    }, 1000);
  } else if (!running && clockTimer !== null) {
    clearInterval(clockTimer);
    clockTimer = null;
  }
}

// ------------------------------------------------------------- actions

function wireSubmitForm() {
  const form = $('submit-form');
  const status = $('submit-status');
  const show = (kind, text) => {
    status.className = `form-status form-status-${kind}`;
    status.textContent = text;
    status.hidden = false;
    if (kind !== 'info') announce(text);
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const command = $('submit-command');
    if (!command.value.trim()) {
      show('error', 'Enter a command to run.');
      command.focus();
      return;
    }
    const body = {
      command: command.value,
      shell: $('submit-shell').checked,
      name: $('submit-name').value,
      timeout: $('submit-timeout').value,
      gpus: $('submit-gpus').value,
      cpus: $('submit-cpus').value,
    };
    const button = $('submit-button');
    button.disabled = true;
    show('info', 'Submitting…');
    try {
      const job = await request('POST', '/ui/api/jobs', body);
      show('ok', `Submitted ${job.name ? `“${job.name}”` : 'the job'} as ${job.id.slice(0, 8)}.`);
      form.reset();
      refreshList();
    } catch (e) {
      if (e.status !== 401) show('error', `Could not submit: ${sentence(e.message)}`);
    } finally {
      button.disabled = false;
    }
  });
}

function wireFilters() {
  const form = $('filters');
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    applyFilters();
  });
  $('filter-status').addEventListener('change', () => applyFilters());
  $('filters-clear').addEventListener('click', () => {
    form.reset();
    applyFilters();
  });
}

async function start() {
  wireCancelDialog();
  wireSubmitForm();
  wireFilters();
  readFilters();
  $('list-refresh').addEventListener('click', () => refreshList());
  $('finished-more').addEventListener('click', () => loadMore());
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') refreshList();
  });
  window.addEventListener('focus', () => refreshList());
  const session = await loadSession();
  refreshMs = Math.max(100, session.refresh_interval_ms);
  isAdmin = session.role === 'admin';
  if (!isAdmin) filters.owner = '';
  await refreshList();
}

start();
