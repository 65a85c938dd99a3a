// Live tail: an EventSource on /admin/live/logs (the session cookie authorises it), newest
// first, with pause (events are held, then shown) and a filter by event type. Reconnecting
// after a filter change resumes from the last event id.
import { names } from '../api.js';
import { fmt, h, statusClass } from '../ui.js';

const MAX_ROWS = 200;
const TYPES = { audit: 'audit.created', usage: 'usage.recorded' };
let users = {};
const userName = (id) => users[id] || id || '—';

function auditRow(e) {
  return h('tr', { class: 'audit' },
    h('td', { 'data-label': 'Time' }, fmt.time(e.created_at)),
    h('td', { 'data-label': 'Event' }, 'request'),
    h('td', { 'data-label': 'Model' }, e.model || '—'),
    h('td', { 'data-label': 'User' }, userName(e.user_id)),
    h('td', { 'data-label': 'Status' }, h('span', { class: statusClass(e.status_code) }, e.status_code), e.error_type ? ` ${e.error_type}` : ''),
    h('td', { 'data-label': 'Tokens' }, fmt.int(e.total_tokens)),
    h('td', { 'data-label': 'Latency' }, fmt.ms(e.latency_ms)),
    // The row id is assigned when the log writer stores the row; the request id finds it too.
    h('td', { 'data-label': 'Detail' }, h('a', { href: `#/requests/${encodeURIComponent(e.id ?? e.request_id)}` }, 'Open')));
}

function usageRow(e) {
  return h('tr', { class: 'usage' },
    h('td', { 'data-label': 'Time' }, new Date().toLocaleString()),
    h('td', { 'data-label': 'Event' }, 'usage'),
    h('td', { 'data-label': 'Model' }, e.model || '—'),
    h('td', { 'data-label': 'User' }, userName(e.user_id)),
    h('td', { 'data-label': 'Status' }, ''),
    h('td', { 'data-label': 'Tokens' }, fmt.int(e.total_tokens)),
    h('td', { 'data-label': 'Latency' }, fmt.usd(e.cost_usd)),
    h('td', { 'data-label': 'Detail' }, e.request_id || ''));
}

export async function render(main) {
  users = await names('users');
  let source = null;
  let stopped = false;
  let cursor = null;
  let paused = false;
  let held = [];
  const state = h('span', { class: 'live-state', role: 'status' }, 'connecting…');
  const body = h('tbody', { id: 'live-rows' });
  const pause = h('button', { type: 'button', 'aria-pressed': 'false', onclick: () => {
    paused = !paused;
    pause.setAttribute('aria-pressed', String(paused));
    pause.textContent = paused ? 'Resume' : 'Pause';
    if (!paused) { held.forEach(show); held = []; }
    counter();
  } }, 'Pause');
  const heldCount = h('span', { class: 'held', 'aria-live': 'polite' });
  const counter = () => { heldCount.textContent = paused ? `${held.length} new while paused` : ''; };
  const boxes = Object.keys(TYPES).map((t) => h('input', { type: 'checkbox', name: 'types', value: t, checked: true, onchange: connect }));
  const filter = h('fieldset', { class: 'inline' }, h('legend', {}, 'Show'),
    boxes.map((b) => h('label', {}, b, ` ${b.value === 'audit' ? 'requests' : 'usage'}`)));

  function show(row) {
    body.prepend(row);
    while (body.children.length > MAX_ROWS) body.lastChild.remove();
  }
  function onEvent(make) {
    return (message) => {
      cursor = message.lastEventId || cursor;
      const row = make(JSON.parse(message.data));
      if (paused) { held.push(row); counter(); } else show(row);
    };
  }
  function connect() {
    if (source) source.close();
    const types = boxes.filter((b) => b.checked).map((b) => b.value);
    if (!types.length) { state.textContent = 'nothing selected'; return; }
    const q = new URLSearchParams({ types: types.join(',') });
    if (cursor) q.set('cursor', cursor);
    source = new EventSource(`/admin/live/logs?${q}`);
    source.addEventListener('reset', (m) => { cursor = JSON.parse(m.data).cursor ?? m.lastEventId ?? cursor; state.textContent = 'live'; state.className = 'live-state on'; });
    source.addEventListener('heartbeat', (m) => { cursor = m.lastEventId || cursor; state.textContent = 'live'; });
    source.addEventListener(TYPES.audit, onEvent(auditRow));
    source.addEventListener(TYPES.usage, onEvent(usageRow));
    source.onerror = () => {
      state.textContent = 'reconnecting…';
      state.className = 'live-state off';
      // Refused (e.g. 400 for a cursor the server no longer knows): EventSource gives up, so
      // start again from now.
      if (source.readyState === EventSource.CLOSED && !stopped) {
        cursor = null;
        setTimeout(() => { if (!stopped) connect(); }, 2000);
      }
    };
  }

  main.append(h('div', { class: 'page-head' }, h('h1', {}, 'Live'), state),
    h('div', { class: 'toolbar' }, pause, heldCount, filter),
    h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {},
      ['Time', 'Event', 'Model', 'User', 'Status', 'Tokens', 'Latency / cost', 'Detail'].map((c) => h('th', { scope: 'col' }, c)))), body)));
  connect();
  return () => { stopped = true; if (source) source.close(); };
}
