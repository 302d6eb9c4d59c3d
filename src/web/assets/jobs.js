// jobctl web UI: the jobs page.
//
// Plain JavaScript served from the jobctl binary as is: no build step, no
// dependency, nothing fetched from elsewhere. Two rules hold throughout:
//
// - Text that comes from jobs (names, commands, owners, log output) reaches
//   the page only through textContent / createTextNode, never innerHTML, so
//   it is always shown and never interpreted.
// - Every request goes to this server's /ui/api/ routes with the session
//   cookie. The API token stays on the server; this script never sees it.
'use strict';

(function () {
  /** Lines kept on screen per log; older ones are dropped (see the download link). */
  const MAX_LINES = 5000;
  /** Lines fetched when a live log is first shown. */
  const LIVE_TAIL = 1000;
  /** Lines fetched when a finished job's log is opened. */
  const FINISHED_TAIL = 2000;
  /** Offset chunks (up to 1 MiB each) read in one refresh to catch up after a burst. */
  const MAX_CHUNKS_PER_POLL = 8;
  /** Further behind than this, a log jumps to its tail instead of reading every byte. */
  const RETAIL_BYTES = 8 * 1024 * 1024;
  /** Longer lines are cut on screen; the download has them whole. */
  const MAX_LINE_CHARS = 16 * 1024;
  /** An unfinished line (no newline yet) kept beyond this is cut. */
  const MAX_PENDING_CHARS = 256 * 1024;
  /** Jobs shown in the list. */
  const LIST_LIMIT = 100;

  const ACTIVE = new Set(['pending', 'running']);
  const STATUS_LABELS = {
    pending: 'Pending',
    running: 'Running',
    completed: 'Completed',
    failed: 'Failed',
    cancelled: 'Cancelled',
  };

  let refreshMs = 5000;
  /** Job id → JobView, for the jobs on the page. */
  const views = new Map();
  let listTimer = null;
  let listBusy = false;
  let listAgain = false;
  let listFailed = false;
  let listUpdated = null;
  let clockTimer = null;
  /** The log box a mouse button went down in, until it comes up: a selection is being made. */
  let pressedIn = null;

  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------- HTTP

  class RequestError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  /** Calls one of this server's JSON routes; throws a RequestError with a readable message. */
  /**
 * Whether a log chunk reached what can be read now. A running job's last
 * few bytes may be an unfinished UTF-8 character, which the API holds back:
 * then nothing new comes (`logs` is empty) although `next_offset < size`, and
 * asking again at once would only spin until the job writes more.
 */
function caughtUp(chunk) {
  return chunk.next_offset >= chunk.size || chunk.logs === '';
}

async function request(method, path, body) {
    const init = {
      method,
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { Accept: 'application/json' },
    };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (e) {
      throw new RequestError(0, 'cannot reach the jobctl web server — is it running?');
    }
    if (resp.status === 401) {
      // The session ended (sign-out elsewhere, a restart, a revoked token).
      window.location.assign('/login?expired=1');
      throw new RequestError(401, 'signed out');
    }
    let data = null;
    try {
      data = await resp.json();
    } catch (e) {
      data = null;
    }
    if (!resp.ok) {
      const message = data && typeof data.error === 'string' ? data.error : `HTTP ${resp.status}`;
      throw new RequestError(resp.status, message);
    }
    return data;
  }

  const jobPath = (id) => `/ui/api/jobs/${encodeURIComponent(id)}`;

  // ---------------------------------------------------------- formatting

  const timeFormat = new Intl.DateTimeFormat(undefined, {
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
  const dayTimeFormat = new Intl.DateTimeFormat(undefined, {
    month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
  });
  const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'long' });

  function formatStart(date) {
    if (!date) return '—';
    const now = new Date();
    const sameDay = date.getFullYear() === now.getFullYear()
      && date.getMonth() === now.getMonth() && date.getDate() === now.getDate();
    return sameDay ? timeFormat.format(date) : dayTimeFormat.format(date);
  }

  function formatDuration(ms) {
    const total = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(total / 3600);
    const m = Math.floor(total / 60) % 60;
    const s = total % 60;
    if (h) return `${h}h ${m}m ${s}s`;
    if (m) return `${m}m ${s}s`;
    return `${s}s`;
  }

  /** An argv as a shell would need it typed. */
  function commandText(argv) {
    return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(' ');
  }

  const seconds = (ms) => (ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`);

  // ------------------------------------------------------- log rendering

  // One token of terminal output: a CSI escape (colours, cursor moves), a
  // CSI cut off at the end of the text, an OSC string (window titles,
  // links), any other escape, or a carriage return.
  const TOKEN = /\x1b\[([0-?]*)[ -/]*([@-~])|\x1b\[[0-?]*[ -/]*$|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\|$)|\x1b[@-Z\\-_]?|\r/g;
  // Control characters that would show as garbage; tabs stay.
  const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/g;

  const plainStyle = () => ({ fg: null, bg: null, bold: false, dim: false, italic: false, underline: false });

  /** Applies one SGR sequence (`ESC[…m`) to a style. */
  function applySgr(style, params) {
    const codes = params === '' ? [0] : params.split(/[;:]/).map((p) => (p === '' ? 0 : Number(p)));
    for (let i = 0; i < codes.length; i++) {
      const c = codes[i];
      if (c === 0) Object.assign(style, plainStyle());
      else if (c === 1) style.bold = true;
      else if (c === 2) style.dim = true;
      else if (c === 3) style.italic = true;
      else if (c === 4) style.underline = true;
      else if (c === 22) { style.bold = false; style.dim = false; }
      else if (c === 23) style.italic = false;
      else if (c === 24) style.underline = false;
      else if (c >= 30 && c <= 37) style.fg = c - 30;
      else if (c === 39) style.fg = null;
      else if (c >= 40 && c <= 47) style.bg = c - 40;
      else if (c === 49) style.bg = null;
      else if (c >= 90 && c <= 97) style.fg = c - 90 + 8;
      else if (c >= 100 && c <= 107) style.bg = c - 100 + 8;
      else if (c === 38 || c === 48) {
        // 256 colours (5;N) keep their 16 basic ones; true colour (2;R;G;B) is dropped.
        if (codes[i + 1] === 5) {
          const n = codes[i + 2];
          if (Number.isInteger(n) && n >= 0 && n < 16) {
            if (c === 38) style.fg = n; else style.bg = n;
          }
          i += 2;
        } else if (codes[i + 1] === 2) {
          i += 4;
        }
      }
    }
  }

  /** Class names for a style; built from numbers only, never from log text. */
  function styleClass(style) {
    const names = [];
    if (style.fg !== null) names.push(`fg${style.fg}`);
    if (style.bg !== null) names.push(`bg${style.bg}`);
    if (style.bold) names.push('b');
    if (style.dim) names.push('d');
    if (style.italic) names.push('i');
    if (style.underline) names.push('u');
    return names.join(' ');
  }

  /** Carries a style through a line that is not drawn. */
  function advanceStyle(raw, style) {
    if (!raw.includes('\x1b')) return;
    TOKEN.lastIndex = 0;
    let m;
    while ((m = TOKEN.exec(raw)) !== null) {
      if (m[2] === 'm') applySgr(style, m[1]);
    }
  }

  /**
   * One line of output as an element. A carriage return starts the line
   * over, as on a terminal, so a progress bar shows only its latest state;
   * colour codes become styled spans; other escapes and controls are dropped.
   * `style` is the style at the start of the line and is advanced to its end.
   */
  function renderLine(raw, style) {
    const el = document.createElement('div');
    el.className = 'ln';
    let segments = [];
    let length = 0;
    let cut = false;
    const push = (text) => {
      text = text.replace(CONTROL, '');
      if (!text || cut) return;
      if (length + text.length > MAX_LINE_CHARS) {
        text = text.slice(0, MAX_LINE_CHARS - length);
        cut = true;
      }
      length += text.length;
      const cls = styleClass(style);
      const last = segments[segments.length - 1];
      if (last && last.cls === cls) last.text += text;
      else segments.push({ cls, text });
    };
    // A CRLF line ending is not a progress update.
    if (raw.endsWith('\r')) raw = raw.slice(0, -1);
    TOKEN.lastIndex = 0;
    let at = 0;
    let m;
    while ((m = TOKEN.exec(raw)) !== null) {
      if (m.index > at) push(raw.slice(at, m.index));
      if (m[0] === '\r') {
        segments = [];
        length = 0;
        cut = false;
      } else if (m[2] === 'm') {
        applySgr(style, m[1]);
      }
      at = TOKEN.lastIndex;
    }
    if (at < raw.length) push(raw.slice(at));
    for (const s of segments) {
      if (s.cls) {
        const span = document.createElement('span');
        span.className = s.cls;
        span.textContent = s.text;
        el.appendChild(span);
      } else {
        el.appendChild(document.createTextNode(s.text));
      }
    }
    if (cut) {
      const more = document.createElement('span');
      more.className = 'cut';
      more.textContent = ' … line cut here; the download has it whole';
      el.appendChild(more);
    }
    return el;
  }

  /** The text of one log box, fed chunk by chunk, bounded to MAX_LINES. */
  class LogView {
    constructor(box, onFollowChange) {
      this.box = box;
      this.onFollowChange = onFollowChange;
      this.following = true;
      this.reset();
      box.addEventListener('scroll', () => {
        const atEnd = box.scrollHeight - box.clientHeight - box.scrollTop <= 8;
        if (atEnd !== this.following) {
          this.following = atEnd;
          this.onFollowChange(atEnd);
        }
      });
    }

    reset() {
      this.box.replaceChildren();
      this.lines = 0;
      this.pending = '';
      this.overlong = false;
      this.style = plainStyle();
      this.tail = null;
      this.dropped = false;
      this.setFollowing(true);
    }

    setFollowing(on) {
      if (this.following !== on) {
        this.following = on;
        this.onFollowChange(on);
      }
    }

    hasText() {
      return this.lines > 0 || (this.tail !== null && this.tail.textContent !== '');
    }

    /** Adds the next piece of the log. */
    append(text) {
      if (!text) return;
      let data;
      if (this.overlong) {
        // The unfinished line is already cut on screen: skip to its end.
        const nl = text.indexOf('\n');
        if (nl < 0) return;
        data = this.pending + text.slice(nl);
        this.overlong = false;
      } else {
        data = this.pending + text;
      }
      const parts = data.split('\n');
      this.pending = this.boundPending(parts.pop());
      if (this.tail) {
        this.tail.remove();
        this.tail = null;
      }
      // Lines beyond what the box keeps are never drawn, only styled through.
      const skip = Math.max(0, parts.length - MAX_LINES);
      for (let i = 0; i < skip; i++) advanceStyle(parts[i], this.style);
      if (skip > 0) {
        this.box.replaceChildren();
        this.lines = 0;
        this.dropped = true;
      }
      const fragment = document.createDocumentFragment();
      for (let i = skip; i < parts.length; i++) fragment.appendChild(renderLine(parts[i], this.style));
      this.lines += parts.length - skip;
      if (this.pending) {
        // The unfinished line is drawn with a copy of the style: it is drawn again when it grows.
        this.tail = renderLine(this.pending, { ...this.style });
        fragment.appendChild(this.tail);
      }
      this.box.appendChild(fragment);
      this.trim();
      if (this.following) this.scrollToEnd();
    }

    boundPending(pending) {
      if (pending.length <= MAX_PENDING_CHARS) return pending;
      // What comes before the last carriage return is never shown again.
      const cr = pending.lastIndexOf('\r', pending.length - 2);
      if (cr > 0 && pending.length - cr <= MAX_PENDING_CHARS) return pending.slice(cr);
      this.overlong = true;
      return pending.slice(0, MAX_LINE_CHARS + 1);
    }

    trim() {
      let excess = this.lines - MAX_LINES;
      if (excess <= 0) return;
      this.dropped = true;
      const before = this.box.scrollHeight;
      while (excess > 0 && this.box.firstChild && this.box.firstChild !== this.tail) {
        this.box.firstChild.remove();
        this.lines -= 1;
        excess -= 1;
      }
      // Keep what the reader is looking at in place.
      if (!this.following) this.box.scrollTop -= before - this.box.scrollHeight;
    }

    scrollToEnd() {
      this.box.scrollTop = this.box.scrollHeight;
    }
  }

  // ------------------------------------------------------------ one job

  /** A job's row and its log panel. */
  class JobView {
    constructor(job) {
      const fragment = $('job-template').content.cloneNode(true);
      this.el = fragment.querySelector('.job');
      this.id = job.id;
      this.job = null;
      /** Byte offset of the next live read; null until the first tail. */
      this.offset = null;
      /** Polling for new output. */
      this.live = false;
      /** The panel holds the log to its end (a finished job's log, fetched). */
      this.loaded = false;
      this.busy = false;
      this.again = false;
      this.paused = false;
      this.timer = null;
      this.lastUpdate = null;
      this.earlierHidden = false;
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
      this.stateEl = q('.log-state');
      this.updatedEl = q('.log-updated');
      this.errorEl = q('.log-error');
      this.noticeEl = q('.log-notice');
      this.emptyEl = q('.log-empty');
      this.box = q('.log');
      this.jumpButton = q('.jump');
      this.refreshButton = q('.refresh');

      this.el.dataset.jobId = job.id;
      const download = `${jobPath(job.id)}/logs/download`;
      q('.download').href = download;
      q('.download-full').href = download;
      this.log = new LogView(this.box, (following) => {
        this.jumpButton.hidden = following;
      });

      this.cancelButton.addEventListener('click', (ev) => {
        // The button sits in the row that opens and closes the panel.
        ev.preventDefault();
        ev.stopPropagation();
        askToCancel(this);
      });
      this.refreshButton.addEventListener('click', () => this.refreshNow());
      this.jumpButton.addEventListener('click', () => {
        this.log.scrollToEnd();
        this.log.setFollowing(true);
      });
      this.box.addEventListener('mousedown', () => {
        pressedIn = this.box;
      });
      this.el.addEventListener('toggle', () => this.onToggle());

      this.update(job);
      this.showLog();
    }

    isActive() {
      return this.live || (this.job !== null && ACTIVE.has(this.job.status));
    }

    /** Shows a (newer) job record. */
    update(job) {
      const active = ACTIVE.has(job.status);
      // A list fetched before the job ended may arrive after: a status never goes back.
      if (active && this.ended) return;
      if (!active) this.ended = true;
      this.job = job;
      this.nameEl.textContent = job.name || '(no name)';
      this.nameEl.classList.toggle('unnamed', !job.name);
      const command = commandText(job.command);
      this.commandEl.textContent = command;
      this.commandEl.title = command;
      this.idEl.textContent = job.id.slice(0, 8);
      this.idEl.title = job.id;
      this.ownerEl.textContent = job.owner;
      const stopping = active && job.cancel_requested;
      this.badgeEl.className = `badge status-${STATUS_LABELS[job.status] ? job.status : 'unknown'}`;
      this.badgeEl.textContent = stopping ? 'Cancelling' : (STATUS_LABELS[job.status] || String(job.status));
      let reason = '';
      if (job.status === 'failed') reason = job.failure_reason || (job.exit_code !== null ? `exit code ${job.exit_code}` : '');
      this.reasonEl.textContent = reason;
      this.reasonEl.title = reason;
      const started = job.started_at ? new Date(job.started_at) : null;
      this.startedEl.textContent = formatStart(started);
      this.startedEl.title = started ? fullFormat.format(started) : 'Not started yet';
      this.tick();
      this.cancelButton.hidden = !active || job.cancel_requested;
      this.el.classList.toggle('is-active', active);
      this.showState();
      if (active && !this.live) this.startLive();
      else if (!active && this.live) this.refreshNow();
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

    showState() {
      let text;
      if (this.paused) text = 'Paused while you select text';
      else if (this.live) text = this.job.status === 'pending' ? `Waiting for a worker · checking every ${seconds(refreshMs)}` : `Live · refreshing every ${seconds(refreshMs)}`;
      else text = 'Finished';
      this.stateEl.textContent = text;
      this.stateEl.classList.toggle('log-live', this.live && !this.paused);
      this.stateEl.classList.toggle('log-paused', this.paused);
      let empty = 'No output yet';
      if (this.job.status === 'pending') empty = 'No output yet — the job is waiting for a worker';
      else if (!ACTIVE.has(this.job.status)) empty = 'The job wrote no output';
      this.emptyEl.textContent = empty;
    }

    showLog() {
      const has = this.log.hasText();
      const appears = has && this.box.hidden;
      this.box.hidden = !has;
      this.emptyEl.hidden = has || (!this.live && !this.loaded);
      this.noticeEl.hidden = !(this.log.dropped || this.earlierHidden);
      // A box that was hidden could not scroll: follow the end now.
      if (appears && this.log.following) this.log.scrollToEnd();
    }

    markUpdated() {
      this.lastUpdate = new Date();
      this.updatedEl.textContent = `Updated ${timeFormat.format(this.lastUpdate)}`;
      this.updatedEl.title = fullFormat.format(this.lastUpdate);
    }

    showError(prefix, error) {
      let text = `${prefix}: ${error.message}.`;
      if (this.lastUpdate && this.log.hasText()) text += ` Showing the log as of ${timeFormat.format(this.lastUpdate)}.`;
      if (this.live) text += ` Retrying every ${seconds(refreshMs)}.`;
      this.errorEl.textContent = text;
      this.errorEl.hidden = false;
    }

    clearError() {
      this.errorEl.hidden = true;
      this.errorEl.textContent = '';
    }

    startLive() {
      this.live = true;
      this.offset = null;
      this.el.open = true;
      this.showState();
      this.showLog();
      this.poll(true);
    }

    refreshNow() {
      if (this.live) this.poll(true);
      else this.loadFinished();
    }

    /** Whether the reader is selecting text in the log: refreshing would lose the selection. */
    isSelecting() {
      if (pressedIn === this.box) return true;
      const sel = document.getSelection();
      if (!sel || sel.isCollapsed || sel.rangeCount === 0) return false;
      return this.box.contains(sel.anchorNode) || this.box.contains(sel.focusNode);
    }

    setPaused(on) {
      if (this.paused !== on) {
        this.paused = on;
        this.showState();
      }
    }

    schedule() {
      clearTimeout(this.timer);
      this.timer = this.live ? setTimeout(() => this.poll(false), refreshMs) : null;
    }

    /** One refresh of a live log: only the bytes after the last one read. */
    async poll(manual) {
      clearTimeout(this.timer);
      this.timer = null;
      if (!this.live) return;
      if (this.busy) {
        this.again = true;
        return;
      }
      if (!manual && this.isSelecting()) {
        this.setPaused(true);
        this.schedule();
        return;
      }
      this.setPaused(false);
      this.busy = true;
      let ended = false;
      try {
        const read = await this.readNew();
        this.markUpdated();
        this.clearError();
        ended = read.complete && !ACTIVE.has(read.status);
        if (!read.complete) this.again = true;
      } catch (e) {
        if (e.status !== 401) this.showError('Could not refresh the log', e);
      } finally {
        this.busy = false;
        this.showLog();
      }
      if (ended) {
        await this.finish();
      } else if (this.again) {
        this.again = false;
        this.poll(true);
      } else {
        this.schedule();
      }
    }

    /** Reads what is new; `complete` when it read up to the end of the file. */
    async readNew() {
      if (this.offset === null) return this.readTail(LIVE_TAIL);
      let chunk = await request('GET', `${jobPath(this.id)}/logs?offset=${this.offset}`);
      for (let n = 1; ; n++) {
        if (chunk.size - chunk.next_offset > RETAIL_BYTES) return this.readTail(LIVE_TAIL);
        this.log.append(chunk.logs);
        this.offset = chunk.next_offset;
        const complete = caughtUp(chunk);
        if (complete || n >= MAX_CHUNKS_PER_POLL) return { status: chunk.status, complete };
        chunk = await request('GET', `${jobPath(this.id)}/logs?offset=${this.offset}`);
      }
    }

    async readTail(lines) {
      const chunk = await request('GET', `${jobPath(this.id)}/logs?tail=${lines}`);
      const following = this.log.following;
      this.log.reset();
      this.log.setFollowing(following);
      this.earlierHidden = chunk.offset > 0 || chunk.truncated;
      this.log.append(chunk.logs);
      if (following) this.log.scrollToEnd();
      this.offset = chunk.next_offset;
      return { status: chunk.status, complete: caughtUp(chunk) };
    }

    /** The job has ended and its log is read to the end: show the final state. */
    async finish() {
      this.live = false;
      this.ended = true;
      this.loaded = true;
      clearTimeout(this.timer);
      this.timer = null;
      try {
        this.update(await request('GET', jobPath(this.id)));
      } catch (e) {
        // The next list refresh brings the final record.
      }
      this.showState();
      this.showLog();
      this.el.open = false;
      refreshListSoon();
    }

    onToggle() {
      if (!this.el.open) return;
      if (!this.live && !this.loaded) this.loadFinished();
      else if (this.log.following) this.log.scrollToEnd();
    }

    /** Fetches a finished job's log tail, when its panel is opened or refreshed. */
    async loadFinished() {
      if (this.busy) return;
      this.busy = true;
      this.stateEl.textContent = 'Loading…';
      try {
        await this.readTail(FINISHED_TAIL);
        this.loaded = true;
        this.markUpdated();
        this.clearError();
      } catch (e) {
        if (e.status !== 401) this.showError('Could not load the log', e);
      } finally {
        this.busy = false;
        this.showState();
        this.showLog();
        if (this.log.following) this.log.scrollToEnd();
      }
    }

    async cancel() {
      this.cancelButton.disabled = true;
      try {
        this.update(await request('POST', `${jobPath(this.id)}/cancel`));
        refreshListSoon();
      } catch (e) {
        if (e.status !== 401) this.showError('Could not cancel the job', e);
      } finally {
        this.cancelButton.disabled = false;
      }
    }

    dispose() {
      this.live = false;
      clearTimeout(this.timer);
      this.el.remove();
    }
  }

  // ------------------------------------------------------------ the list

  function renderJobs(jobs) {
    const list = $('job-list');
    const seen = new Set();
    let previous = null;
    for (const job of jobs) {
      seen.add(job.id);
      let view = views.get(job.id);
      if (view) {
        view.update(job);
      } else {
        view = new JobView(job);
        views.set(job.id, view);
      }
      // Newest first; existing rows never move (moving would reset their scroll).
      const expected = previous ? previous.nextSibling : list.firstChild;
      if (expected !== view.el) list.insertBefore(view.el, expected);
      previous = view.el;
    }
    for (const [id, view] of views) {
      if (!seen.has(id)) {
        view.dispose();
        views.delete(id);
      }
    }
    $('jobs-loading').hidden = true;
    $('jobs-empty').hidden = jobs.length > 0;
  }

  const anyActive = () => [...views.values()].some((v) => v.isActive());

  /** Refreshes the list now; it goes on refreshing while a job is pending or running. */
  async function refreshList() {
    clearTimeout(listTimer);
    listTimer = null;
    if (listBusy) {
      listAgain = true;
      return;
    }
    listBusy = true;
    try {
      const data = await request('GET', `/ui/api/jobs?limit=${LIST_LIMIT}`);
      renderJobs(data.jobs);
      listFailed = false;
      $('list-error').hidden = true;
      listUpdated = new Date();
    } catch (e) {
      if (e.status !== 401) {
        listFailed = true;
        const error = $('list-error');
        error.textContent = `Could not refresh the job list: ${e.message}. Retrying every ${seconds(refreshMs)}.`;
        error.hidden = false;
      }
    } finally {
      listBusy = false;
    }
    if (listAgain) {
      listAgain = false;
      refreshList();
      return;
    }
    // A failed refresh is retried even when nothing was running: the page
    // may not know yet.
    const again = listFailed || anyActive();
    if (again) listTimer = setTimeout(refreshList, refreshMs);
    if (listUpdated) {
      // Say whether the list is live, so an idle page is not mistaken for one.
      const live = again && !listFailed ? ` · refreshing every ${seconds(refreshMs)} while jobs run` : '';
      $('list-updated').textContent = `Updated ${timeFormat.format(listUpdated)}${live}`;
    }
    runClock();
  }

  function refreshListSoon() {
    clearTimeout(listTimer);
    listTimer = setTimeout(refreshList, 250);
  }

  /** Ticks running jobs' durations once a second, only while some job runs. */
  function runClock() {
    const running = [...views.values()].some((v) => v.job && v.job.status === 'running');
    if (running && clockTimer === null) {
      clockTimer = setInterval(() => {
        for (const v of views.values()) if (v.job.status === 'running') v.tick();
      }, 1000);
    } else if (!running && clockTimer !== null) {
      clearInterval(clockTimer);
      clockTimer = null;
    }
  }

  // ------------------------------------------------------------ actions

  let cancelTarget = null;

  function askToCancel(view) {
    cancelTarget = view;
    $('cancel-job-name').textContent = view.job.name || '(no name)';
    $('cancel-job-id').textContent = view.job.id.slice(0, 8);
    const dialog = $('cancel-dialog');
    if (!dialog.open) dialog.showModal();
    // The safe choice has the focus: Enter does not cancel by accident.
    $('cancel-keep').focus();
  }

  function wireCancelDialog() {
    const dialog = $('cancel-dialog');
    $('cancel-keep').addEventListener('click', () => dialog.close('keep'));
    $('cancel-confirm').addEventListener('click', () => {
      const view = cancelTarget;
      dialog.close('confirm');
      if (view) view.cancel();
    });
    dialog.addEventListener('close', () => {
      cancelTarget = null;
    });
  }

  function wireSubmitForm() {
    const form = $('submit-form');
    const status = $('submit-status');
    const show = (kind, text) => {
      status.className = `form-status form-status-${kind}`;
      status.textContent = text;
      status.hidden = false;
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
        if (e.status !== 401) show('error', `Could not submit: ${e.message}`);
      } finally {
        button.disabled = false;
      }
    });
  }

  function wireSelection() {
    const resume = () => {
      for (const v of views.values()) if (v.paused && !v.isSelecting()) v.poll(false);
    };
    document.addEventListener('mouseup', () => {
      if (pressedIn !== null) {
        pressedIn = null;
        // Let the selection settle before deciding whether the log may move.
        setTimeout(resume, 0);
      }
    });
    document.addEventListener('selectionchange', resume);
  }

  function start() {
    wireCancelDialog();
    wireSubmitForm();
    wireSelection();
    $('list-refresh').addEventListener('click', () => refreshList());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') refreshList();
    });
    loadSession();
  }

  /** Who is signed in and how often to refresh; then the list. */
  async function loadSession() {
    let session;
    try {
      session = await request('GET', '/ui/api/session');
    } catch (e) {
      if (e.status !== 401) {
        const error = $('list-error');
        error.textContent = `Could not load the page: ${e.message}. Retrying in ${seconds(refreshMs)}.`;
        error.hidden = false;
        setTimeout(loadSession, refreshMs);
      }
      return;
    }
    refreshMs = Math.max(100, session.refresh_interval_ms);
    $('who-name').textContent = session.name;
    const role = $('who-role');
    role.textContent = session.role;
    role.hidden = false;
    document.body.classList.toggle('is-admin', session.role === 'admin');
    await refreshList();
  }

  start();
}());
