// uPlot charts over /admin/analytics/timeseries buckets: lines, and stacked status bars.
const uPlot = () => window.uPlot;

const COLORS = { a: '#2563eb', b: '#f59e0b', ok: '#16a34a', c4: '#f59e0b', c5: '#dc2626' };

function size(el) {
  return { width: Math.max(260, el.clientWidth - 4), height: 180 };
}

// Tick labels with enough significant digits to tell ticks apart (costs are often < $0.001).
function tick(v, unit) {
  const text = v === 0 ? '0' : String(+v.toPrecision(3));
  return unit === '$' ? `$${text}` : `${text}${unit}`;
}

function axes(unit) {
  const label = (v) => tick(v, unit);
  return [{}, { size: unit === '$' ? 76 : 60, values: (u, splits) => splits.map((v) => (v === null ? '' : label(v))) }];
}

// One chart: `series` is [{label, values, color}], x is unix seconds.
export function lineChart(el, title, xs, series, unit = '') {
  const opts = {
    title,
    ...size(el),
    scales: { x: { time: true } },
    axes: axes(unit),
    // Points where a series has few values (a line needs two): one busy bucket still shows.
    series: [{}, ...series.map((s) => ({
      label: s.label, stroke: s.color, width: 2, spanGaps: true,
      points: { show: s.values.filter((v) => v !== null).length <= 3, size: 6, fill: s.color },
    }))],
  };
  return new (uPlot())(opts, [xs, ...series.map((s) => s.values)], el);
}

// Stacked bars of 2xx/4xx/5xx: each drawn as the running sum, tallest first, so the lower
// sums paint over it; the legend shows each class's own count.
export function statusChart(el, xs, ok, c4, c5) {
  const s4 = ok.map((v, i) => v + c4[i]);
  const s5 = s4.map((v, i) => v + c5[i]);
  const own = [null, c5, c4, ok];
  const bars = uPlot().paths.bars({ size: [0.8, 40] });
  const serie = (label, color) => ({
    label, stroke: color, fill: color, paths: bars, points: { show: false },
    value: (u, v, si, i) => (i === null || i === undefined ? '—' : own[si][i]),
  });
  const opts = {
    title: 'Responses by status class',
    ...size(el),
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
    axes: axes(''),
    series: [{}, serie('5xx', COLORS.c5), serie('4xx', COLORS.c4), serie('2xx', COLORS.ok)],
  };
  return new (uPlot())(opts, [xs, s5, s4, ok], el);
}

export { COLORS };
