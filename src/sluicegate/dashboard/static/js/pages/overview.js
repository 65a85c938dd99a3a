// Overview: totals, charts of /admin/analytics/timeseries, top models and users.
import { get, names } from '../api.js';
import { COLORS, lineChart, statusChart } from '../charts.js';
import { clear, field, fmt, h, table } from '../ui.js';

const RANGES = {
  '1h': { seconds: 3600, bucket: 'minute', label: 'Last hour' },
  '24h': { seconds: 86400, bucket: 'hour', label: 'Last 24 hours' },
  '7d': { seconds: 7 * 86400, bucket: 'hour', label: 'Last 7 days' },
  '30d': { seconds: 30 * 86400, bucket: 'day', label: 'Last 30 days' },
};

function card(label, value) {
  return h('div', { class: 'card' }, h('span', { class: 'card-label' }, label), h('strong', {}, value));
}

function top(rows, label, nameOf) {
  const sorted = [...rows].sort((a, b) => b.requests - a.requests).slice(0, 8);
  return table([
    { label, cell: (r) => nameOf(r.group) },
    { label: 'Requests', cell: (r) => fmt.int(r.requests) },
    { label: 'Errors', cell: (r) => fmt.int(r.errors) },
    { label: 'Tokens', cell: (r) => fmt.int(r.total_tokens) },
    { label: 'Cost', cell: (r) => fmt.usd(r.cost_usd) },
  ], sorted, { caption: `Top ${label.toLowerCase()}s` });
}

export async function render(main, { params }) {
  const range = RANGES[params.get('range')] ? params.get('range') : '24h';
  const picker = h('select', { onchange: (e) => { window.location.hash = `#/overview?range=${e.target.value}`; } },
    Object.entries(RANGES).map(([k, r]) => h('option', { value: k, selected: k === range }, r.label)));
  const totals = h('div', { class: 'cards', id: 'totals' });
  const charts = h('div', { class: 'charts', id: 'charts' });
  const tops = h('div', { class: 'tops' });
  main.append(h('div', { class: 'page-head' }, h('h1', {}, 'Overview'), field('Time range', picker)), totals, charts, tops);

  const until = new Date();
  const since = new Date(until.getTime() - RANGES[range].seconds * 1000);
  const window_ = { since: since.toISOString(), until: until.toISOString() };
  const [byModel, byUser, users] = await Promise.all([
    get('/admin/analytics/usage', { group_by: 'model', ...window_ }),
    get('/admin/analytics/usage', { group_by: 'user', ...window_ }),
    names('users'),
  ]);
  const sum = (key) => byModel.rows.reduce((acc, r) => acc + (r[key] || 0), 0);
  const requests = sum('requests');
  clear(totals,
    card('Requests', fmt.int(requests)),
    card('Tokens', fmt.int(sum('total_tokens'))),
    card('Cost', fmt.usd(sum('cost_usd'))),
    card('Error rate', requests ? fmt.pct(sum('errors') / requests) : '—'));
  clear(tops,
    top(byModel.rows, 'Model', (g) => g ?? '(none)'),
    top(byUser.rows, 'User', (g) => (g ? users[g] || g : '(no user)')));

  let plots = [];
  try {
    const { buckets } = await get('/admin/analytics/timeseries', { bucket: RANGES[range].bucket, ...window_ });
    plots = drawCharts(charts, buckets);
  } catch (error) {
    clear(charts, h('p', { class: 'message', role: 'alert' }, `Charts unavailable: ${error.message}`));
  }
  const resize = () => plots.forEach(({ plot, el }) => plot.setSize({ width: Math.max(260, el.clientWidth - 4), height: 180 }));
  window.addEventListener('resize', resize);
  return () => { window.removeEventListener('resize', resize); plots.forEach(({ plot }) => plot.destroy()); };
}

function drawCharts(container, buckets) {
  clear(container);
  if (!buckets.length) {
    container.append(h('p', { class: 'empty' }, 'No requests in this range.'));
    return [];
  }
  const xs = buckets.map((b) => Date.parse(b.start) / 1000);
  const col = (key) => buckets.map((b) => b[key] ?? null);
  const specs = [
    (el) => lineChart(el, 'Requests and errors', xs, [
      { label: 'Requests', values: col('requests'), color: COLORS.a },
      { label: 'Errors', values: col('errors'), color: COLORS.c5 }]),
    (el) => statusChart(el, xs, col('status_2xx'), col('status_4xx'), col('status_5xx')),
    (el) => lineChart(el, 'Tokens', xs, [
      { label: 'Prompt', values: col('prompt_tokens'), color: COLORS.a },
      { label: 'Completion', values: col('completion_tokens'), color: COLORS.b }]),
    (el) => lineChart(el, 'Cost', xs, [{ label: 'USD', values: col('cost_usd'), color: COLORS.ok }], '$'),
    (el) => lineChart(el, 'Error rate', xs, [{ label: 'Errors %', values: buckets.map((b) => (b.requests ? (100 * b.errors) / b.requests : null)), color: COLORS.c5 }], '%'),
    (el) => lineChart(el, 'Latency', xs, [
      { label: 'p50', values: col('latency_ms_p50'), color: COLORS.a },
      { label: 'p95', values: col('latency_ms_p95'), color: COLORS.b }], 'ms'),
    (el) => lineChart(el, 'Time to first token', xs, [
      { label: 'p50', values: col('ttft_ms_p50'), color: COLORS.a },
      { label: 'p95', values: col('ttft_ms_p95'), color: COLORS.b }], 'ms'),
  ];
  // Every figure is placed first, so each chart is sized to its final grid cell.
  const figures = specs.map(() => h('figure', { class: 'chart' }));
  container.append(...figures);
  return specs.map((make, i) => ({ plot: make(figures[i]), el: figures[i] }));
}
