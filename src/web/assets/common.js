// What both pages share: the signed-in session, the one live region that
// announces status changes, the cancel dialog, a job's row cells.

import { request, sentence } from './http.js';
import { seconds, commandText, statusLabel, failureText, STATUS_LABELS } from './format.js';

export const $ = (id) => document.getElementById(id);

/**
 * Says `text` through the page's one polite live region (log boxes are not
 * live regions: a screen reader would read every line).
 */
export function announce(text) {
  const region = $('announcer');
  if (!region) return;
  // A new text node each time, so the same words twice are read twice.
  region.replaceChildren(document.createTextNode(text));
}

/**
 * Loads who is signed in and the refresh interval; while the web server
 * cannot answer, says so in `#page-error` and tries again.
 */
export async function loadSession() {
  let wait = 1000;
  for (;;) {
    try {
      const session = await request('GET', '/ui/api/session');
      $('page-error').hidden = true;
      $('who-name').textContent = session.name;
      const role = $('who-role');
      role.textContent = session.role;
      role.hidden = false;
      document.body.classList.toggle('is-admin', session.role === 'admin');
      return session;
    } catch (e) {
      if (e.status === 401) return new Promise(() => {});
      const error = $('page-error');
      error.textContent = `Could not load the page: ${sentence(e.message)} Retrying in ${seconds(wait)}.`;
      error.hidden = false;
      const loading = document.querySelector('.page-loading');
      if (loading) loading.hidden = true;
      await new Promise((resolve) => { setTimeout(resolve, wait); });
      wait = Math.min(wait * 2, 30000);
    }
  }
}

let cancelTarget = null;

/** Asks before cancelling `job`; `onConfirm` runs when the user confirms. */
export function askToCancel(job, onConfirm) {
  cancelTarget = onConfirm;
  $('cancel-job-name').textContent = job.name || '(no name)';
  $('cancel-job-id').textContent = job.id.slice(0, 8);
  const dialog = $('cancel-dialog');
  if (!dialog.open) dialog.showModal();
  // The safe choice has the focus: Enter does not cancel by accident.
  $('cancel-keep').focus();
}

export function wireCancelDialog() {
  const dialog = $('cancel-dialog');
  $('cancel-keep').addEventListener('click', () => dialog.close('keep'));
  $('cancel-confirm').addEventListener('click', () => {
    const confirm = cancelTarget;
    dialog.close('confirm');
    if (confirm) confirm();
  });
  dialog.addEventListener('close', () => {
    cancelTarget = null;
  });
}

/** Sets a status badge. */
export function setBadge(el, job) {
  el.className = `badge status-${STATUS_LABELS[job.status] ? job.status : 'unknown'}`;
  el.textContent = statusLabel(job);
}

export { commandText, failureText };
