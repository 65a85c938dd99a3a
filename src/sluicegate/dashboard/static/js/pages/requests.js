// Request log: every filter of GET /admin/analytics/requests, paging, rows linking to details.
// The filters live in the URL (#/requests?model=m&offset=50), so back/forward and links work.
import { get, names } from '../api.js';
import { field, fmt, h, statusClass, table } from '../ui.js';

const PAGE = 50;
const ERROR_TYPES = ['client_disconnected', 'upstream_disconnected', 'upstream_error', 'timeout',
  'rate_limited', 'budget_exceeded', 'auth_error', 'permission_denied', 'invalid_request',
  'model_not_found', 'content_filter', 'overloaded', 'gateway_shutdown', 'internal_error'];
const FILTERS = ['user_id', 'model', 'backend', 'status_code', 'error_type', 'stream', 'since', 'until', 'detailLogged'];

const choice = (name, options, value) => h('select', { name },
  options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));

// datetime-local is local time without a zone; the API gets UTC.
const toLocal = (iso) => {
  if (!iso) return '';
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
};
const toUtc = (local) => (local ? new Date(local).toISOString() : '');

export async function render(main, { args, params }) {
  if (args.length) return (await import('./detail.js')).render(main, args[0]);
  const users = await names('users');
  const value = (k) => params.get(k) || '';
  const form = h('form', { class: 'filters', 'aria-label': 'Filters', onsubmit: (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const next = new URLSearchParams();
    for (const key of FILTERS) {
      let v = data.get(key) || '';
      if (key === 'since' || key === 'until') v = toUtc(v);
      if (v) next.set(key, v);
    }
    window.location.hash = `#/requests?${next}`;
  } },
    field('User', choice('user_id', [['', 'Any'], ...Object.entries(users).map(([id, n]) => [id, n])], value('user_id'))),
    field('Model', h('input', { name: 'model', value: value('model') })),
    field('Backend', h('input', { name: 'backend', value: value('backend') })),
    field('Status', h('input', { name: 'status_code', type: 'number', min: '100', max: '599', value: value('status_code') })),
    field('Error type', choice('error_type', [['', 'Any'], ...ERROR_TYPES.map((t) => [t, t])], value('error_type'))),
    field('Stream', choice('stream', [['', 'Any'], ['true', 'Streamed'], ['false', 'Not streamed']], value('stream'))),
    field('Since', h('input', { name: 'since', type: 'datetime-local', value: toLocal(value('since')) })),
    field('Until', h('input', { name: 'until', type: 'datetime-local', value: toLocal(value('until')) })),
    field('Bodies', choice('detailLogged', [['', 'Any'], ['true', 'Logged'], ['false', 'Not logged']], value('detailLogged'))),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Apply'),
      h('a', { href: '#/requests', class: 'button secondary' }, 'Clear')));

  const offset = Math.max(0, parseInt(params.get('offset') || '0', 10) || 0);
  const filters = Object.fromEntries(FILTERS.map((k) => [k, value(k)]));
  const { rows, total } = await get('/admin/analytics/requests', { ...filters, limit: PAGE, offset });
  const columns = [
    { label: 'Time', cell: (r) => h('a', { href: `#/requests/${r.id}` }, fmt.time(r.created_at)) },
    { label: 'User', cell: (r) => users[r.user_id] || r.user_id || '—' },
    { label: 'Model', cell: (r) => r.model || '—' },
    { label: 'Backend', cell: (r) => r.backend || '—' },
    { label: 'Status', cell: (r) => h('span', { class: statusClass(r.status_code) }, r.status_code) },
    { label: 'Error', cell: (r) => r.error_type || '' },
    { label: 'Tokens', cell: (r) => fmt.int(r.total_tokens) },
    { label: 'Cost', cell: (r) => fmt.usd(r.cost_usd) },
    { label: 'Latency', cell: (r) => fmt.ms(r.latency_ms) },
    { label: 'TTFT', cell: (r) => fmt.ms(r.ttft_ms) },
  ];
  const page = (o) => {
    const next = new URLSearchParams(params);
    next.set('offset', String(o));
    return `#/requests?${next}`;
  };
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' },
    offset > 0 ? h('a', { href: page(Math.max(0, offset - PAGE)), class: 'button secondary' }, '← Newer') : null,
    h('span', {}, total ? `${offset + 1}–${offset + rows.length} of ${total}` : 'No rows'),
    offset + rows.length < total ? h('a', { href: page(offset + PAGE), class: 'button secondary' }, 'Older →') : null);
  main.append(h('h1', {}, 'Requests'), form, table(columns, rows, { empty: 'No request matches.' }), pager);
}
