// One job's log panel: the live tail of a running job, the log of a finished
// one, "Load earlier output", search (on screen and in the whole log), the
// wrap toggle. Used by the rows of the job list and by the job page.

import { request, jobPath, caughtUp, sentence } from './http.js';
import { timeFormat, fullFormat, seconds, ACTIVE } from './format.js';
import { LogView } from './logview.js';
import { lineText } from './ansi.js';

/** Lines fetched when a live log is first shown. */
const LIVE_TAIL = 1000;
/** Lines fetched when a finished job's log is opened. */
const FINISHED_TAIL = 2000;
/** Lines fetched by one "Load earlier output". */
const EARLIER_LINES = 1000;
/** Lines shown before and after a search match jumped to. */
const CONTEXT_LINES = 200;
/** Offset chunks (up to 1 MiB each) read in one refresh to catch up after a burst. */
const MAX_CHUNKS_PER_POLL = 8;
/** Further behind than this, a log jumps to its tail instead of reading every byte. */
const RETAIL_BYTES = 8 * 1024 * 1024;
/** Matches listed per "find in whole log". */
const SEARCH_LIMIT = 50;
/** Search requests (each bounded in work by the API) made for one click before asking to go on. */
const SEARCH_ROUNDS = 40;

/** The log box a mouse button went down in, until it comes up: a selection is being made. */
let pressedIn = null;
const panels = new Set();

document.addEventListener('mouseup', () => {
  if (pressedIn !== null) {
    pressedIn = null;
    // Let the selection settle before deciding whether the log may move.
    setTimeout(resumeAll, 0);
  }
});
document.addEventListener('selectionchange', () => resumeAll());

function resumeAll() {
  for (const p of panels) if (p.paused && !p.isSelecting()) p.poll(false);
}

export class LogPanel {
  /**
   * `root` holds the panel's markup (see the `log-panel` template);
   * `host.refreshMs()` is the refresh interval, `host.onFinished()` is
   * called once the job has ended and its log is read to the end, and
   * `host.setOpen(bool)` / `host.isOpen()` fold and unfold the panel.
   */
  constructor(root, jobId, host) {
    this.root = root;
    this.id = jobId;
    this.host = host;
    this.status = null;
    /** Byte offset of the next live read; null until the first tail. */
    this.offset = null;
    this.live = false;
    this.loaded = false;
    this.busy = false;
    this.again = false;
    this.paused = false;
    this.failing = false;
    this.timer = null;
    this.lastUpdate = null;
    /** The user scrolled, searched, opened or loaded: the panel is theirs, it no longer folds by itself. */
    this.touched = false;
    this.searchRun = 0;

    const q = (sel) => root.querySelector(sel);
    this.stateEl = q('.log-state');
    this.updatedEl = q('.log-updated');
    this.errorEl = q('.log-error');
    this.earlierEl = q('.log-earlier');
    this.earlierButton = q('.earlier');
    this.emptyEl = q('.log-empty');
    this.box = q('.log');
    this.jumpButton = q('.jump');
    this.refreshButton = q('.refresh');
    this.wrapToggle = q('.wrap');
    this.searchForm = q('.log-search');
    this.searchInput = q('.search-input');
    this.caseToggle = q('.search-case');
    this.searchCount = q('.search-count');
    this.resultsEl = q('.search-results');
    this.summaryEl = q('.search-summary');
    this.listEl = q('.search-list');
    this.moreButton = q('.search-more');

    const download = `${jobPath(jobId)}/logs/download`;
    for (const a of root.querySelectorAll('.download, .download-full')) a.href = download;
    this.log = new LogView(this.box, (following) => this.showJump(following));

    this.refreshButton.addEventListener('click', () => {
      this.touch();
      this.refreshNow();
    });
    this.jumpButton.addEventListener('click', () => this.toEnd());
    this.earlierButton.addEventListener('click', () => {
      this.touch();
      this.loadEarlier();
    });
    this.wrapToggle.addEventListener('change', () => {
      this.touch();
      this.box.classList.toggle('nowrap', !this.wrapToggle.checked);
    });
    let typing = null;
    this.searchInput.addEventListener('input', () => {
      this.touch();
      // Marking thousands of lines on every key would lag behind typing.
      clearTimeout(typing);
      typing = setTimeout(() => this.highlight(), 150);
    });
    this.caseToggle.addEventListener('change', () => {
      this.touch();
      this.highlight();
      if (!this.resultsEl.hidden) this.searchWhole(null);
    });
    this.searchForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.touch();
      this.searchWhole(null);
    });
    this.moreButton.addEventListener('click', () => this.searchWhole(this.searchNext));
    // Only what a person does marks the panel as theirs: the page's own
    // scrolling (following the end) fires scroll events too.
    for (const type of ['wheel', 'keydown', 'touchstart']) {
      this.box.addEventListener(type, () => this.touch(), { passive: true });
    }
    this.box.addEventListener('mousedown', () => {
      this.touch();
      pressedIn = this.box;
    });
    panels.add(this);
  }

  touch() {
    this.touched = true;
  }

  /** Shows the job's status; starts or stops following its log. */
  setStatus(job) {
    this.status = job.status;
    if (job.status === 'running' && !this.live) this.startLive();
    else if (!ACTIVE.has(job.status) && this.live) this.refreshNow();
    this.showState();
    this.showLog();
  }

  showState() {
    let text;
    const every = seconds(this.host.refreshMs());
    if (this.paused) text = 'Paused while you select text';
    else if (this.live && this.failing) text = `Connection lost · retrying every ${every}`;
    else if (this.live) text = `Live · refreshing every ${every}`;
    else if (this.status === 'pending') text = 'Waiting for a worker';
    else if (this.status === null) text = '';
    else text = 'Finished';
    this.stateEl.textContent = text;
    this.stateEl.classList.toggle('log-live', this.live && !this.paused && !this.failing);
    this.stateEl.classList.toggle('log-paused', this.paused);
    let empty = 'No output yet';
    if (this.status === 'pending') empty = 'No output yet: the job is waiting for a worker';
    else if (this.status !== null && !ACTIVE.has(this.status)) empty = 'The job wrote no output';
    this.emptyEl.textContent = empty;
  }

  showLog() {
    const has = this.log.hasText();
    const appears = has && this.box.hidden;
    this.box.hidden = !has;
    this.emptyEl.hidden = has || (!this.live && !this.loaded && this.status !== 'pending');
    this.earlierEl.hidden = !this.log.hasEarlier();
    this.searchForm.hidden = !has;
    // A box that was hidden could not scroll: follow the end now.
    if (appears && this.log.following) this.log.scrollToEnd();
    this.showJump(this.log.following);
  }

  showJump(following) {
    const away = !this.log.atEnd;
    this.jumpButton.hidden = following && !away;
    this.jumpButton.textContent = away ? 'Back to the end ↓' : 'Jump to end ↓';
  }

  markUpdated() {
    this.lastUpdate = new Date();
    this.updatedEl.textContent = `Updated ${timeFormat.format(this.lastUpdate)}`;
    this.updatedEl.title = fullFormat.format(this.lastUpdate);
  }

  showError(prefix, error) {
    let text = `${prefix}: ${sentence(error.message)}`;
    if (this.lastUpdate && this.log.hasText()) text += ` Showing the log as of ${timeFormat.format(this.lastUpdate)}.`;
    if (this.live) text += ` Retrying every ${seconds(this.host.refreshMs())}.`;
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
    this.host.setOpen(true);
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
    this.timer = this.live ? setTimeout(() => this.poll(false), this.host.refreshMs()) : null;
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
      this.failing = false;
      this.markUpdated();
      this.clearError();
      ended = read.complete && !ACTIVE.has(read.status);
      if (!read.complete) this.again = true;
    } catch (e) {
      if (e.status !== 401) {
        this.failing = true;
        this.showError('Could not refresh the log', e);
      }
    } finally {
      this.busy = false;
      this.showState();
      this.showLog();
    }
    if (ended) {
      this.finish();
    } else if (this.again) {
      this.again = false;
      this.poll(true);
    } else {
      this.schedule();
    }
  }

  logsUrl(query) {
    return `${jobPath(this.id)}/logs?${query}`;
  }

  /** Reads what is new; `complete` when it read up to the end of the file. */
  async readNew() {
    if (this.offset === null) return this.readTail(LIVE_TAIL);
    if (!this.log.atEnd) {
      // The box shows a window elsewhere in the log: only the status and
      // the size matter until the reader goes back to the end.
      const chunk = await request('GET', this.logsUrl('tail=0'));
      this.offset = chunk.next_offset;
      return { status: chunk.status, complete: true };
    }
    let chunk = await request('GET', this.logsUrl(`offset=${this.offset}`));
    for (let n = 1; ; n++) {
      if (chunk.size - chunk.next_offset > RETAIL_BYTES && this.log.atEnd) return this.readTail(LIVE_TAIL);
      this.log.append(chunk.logs);
      this.offset = chunk.next_offset;
      const complete = caughtUp(chunk);
      if (complete || n >= MAX_CHUNKS_PER_POLL) return { status: chunk.status, complete };
      chunk = await request('GET', this.logsUrl(`offset=${this.offset}`));
    }
  }

  async readTail(lines) {
    const chunk = await request('GET', this.logsUrl(`tail=${lines}`));
    const following = this.log.following;
    this.log.reset(chunk.offset);
    this.log.setFollowing(following);
    this.log.append(chunk.logs);
    if (following) this.log.scrollToEnd();
    this.offset = chunk.next_offset;
    return { status: chunk.status, complete: caughtUp(chunk) };
  }

  /** The job has ended and its log is read to the end: show the final state. */
  finish() {
    this.live = false;
    this.loaded = true;
    clearTimeout(this.timer);
    this.timer = null;
    this.showState();
    this.showLog();
    // A panel the user has made theirs stays as they left it.
    if (!this.touched) this.host.setOpen(false);
    this.host.onFinished();
  }

  /** The panel was unfolded: load a finished job's log the first time. */
  opened(byUser) {
    if (byUser) this.touch();
    if (!this.live && !this.loaded && this.status !== null && !ACTIVE.has(this.status)) this.loadFinished();
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
      this.highlight();
      if (this.log.following) this.log.scrollToEnd();
    }
  }

  /** Back to the end of the log: reloads the tail when the box shows a window elsewhere. */
  async toEnd() {
    if (this.log.atEnd) {
      this.log.scrollToEnd();
      this.log.setFollowing(true);
      return;
    }
    this.log.setFollowing(true);
    if (this.live) {
      this.offset = null;
      this.poll(true);
    } else {
      this.loaded = false;
      await this.loadFinished();
    }
  }

  /** "Load earlier output": the lines just before the first one shown. */
  async loadEarlier() {
    if (!this.log.hasEarlier()) return;
    this.earlierButton.disabled = true;
    try {
      const chunk = await request('GET', this.logsUrl(`before=${this.log.firstOffset}&tail=${EARLIER_LINES}`));
      this.log.prepend(chunk.logs, chunk.offset);
      this.clearError();
    } catch (e) {
      if (e.status !== 401) this.showError('Could not load earlier output', e);
    } finally {
      this.earlierButton.disabled = false;
      this.showLog();
    }
  }

  /** Marks what the search box holds in the lines on screen. */
  highlight() {
    const query = this.searchInput.value;
    const n = this.log.highlight(query, !this.caseToggle.checked);
    this.searchCount.textContent = query ? `${n} on screen` : '';
  }

  /**
   * "Find in whole log" through the search route, from the start of the
   * log (`after` null) or from where the last search stopped. Each request
   * is bounded in work by the API; a few are chained per click.
   */
  async searchWhole(after) {
    const query = this.searchInput.value;
    const run = ++this.searchRun;
    if (after === null) this.listEl.replaceChildren();
    if (!query) {
      this.resultsEl.hidden = true;
      return;
    }
    this.resultsEl.hidden = false;
    this.moreButton.hidden = true;
    this.summaryEl.textContent = 'Searching…';
    let found = this.listEl.childElementCount;
    let next = after;
    try {
      for (let round = 0; round < SEARCH_ROUNDS; round++) {
        const params = new URLSearchParams({ q: query, limit: String(SEARCH_LIMIT) });
        if (!this.caseToggle.checked) params.set('ignore_case', 'true');
        if (next !== null) params.set('after', String(next));
        const answer = await request('GET', `${jobPath(this.id)}/logs/search?${params}`);
        if (run !== this.searchRun) return;
        for (const m of answer.matches) this.listEl.appendChild(this.matchItem(m));
        found += answer.matches.length;
        next = answer.next_after;
        if (next === null || answer.matches.length > 0) break;
      }
    } catch (e) {
      if (run === this.searchRun && e.status !== 401) this.summaryEl.textContent = `Could not search the log: ${sentence(e.message)}`;
      return;
    }
    this.searchNext = next;
    this.moreButton.hidden = next === null;
    let text = found === 0 ? 'No match in the log' : `${found} ${found === 1 ? 'match' : 'matches'}`;
    if (next !== null) text += found === 0 ? ` in the first ${next} bytes` : ' so far';
    this.summaryEl.textContent = `${text}.`;
    this.moreButton.textContent = found === 0 ? 'Search further' : 'More matches';
  }

  matchItem(match) {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'match ghost small';
    button.dataset.offset = String(match.offset);
    // As the line shows on screen: escapes applied, never interpreted as markup.
    button.textContent = lineText(match.text);
    button.title = `Show the log around byte ${match.offset}`;
    button.addEventListener('click', () => this.jumpTo(match.offset));
    li.appendChild(button);
    return li;
  }

  /** Shows the output around the line that starts at byte `offset`. */
  async jumpTo(offset) {
    this.touch();
    try {
      const [before, after] = await Promise.all([
        request('GET', this.logsUrl(`before=${offset}&tail=${CONTEXT_LINES}`)),
        request('GET', this.logsUrl(`offset=${offset}`)),
      ]);
      const lines = after.logs.split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      const keep = lines.slice(0, CONTEXT_LINES).map((l) => `${l}\n`).join('');
      const target = this.log.showWindow(before.logs, before.offset, keep, offset);
      this.highlight();
      this.clearError();
      this.showLog();
      if (target) target.scrollIntoView({ block: 'center' });
    } catch (e) {
      if (e.status !== 401) this.showError('Could not load that part of the log', e);
    }
  }

  dispose() {
    this.live = false;
    clearTimeout(this.timer);
    panels.delete(this);
  }
}
