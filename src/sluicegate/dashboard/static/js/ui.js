// DOM helpers: elements are built from data with text nodes only (never innerHTML), so
// logged prompts and responses cannot inject markup into the dashboard.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined));
  return el;
}

export function toast(message, kind = 'info') {
  const box = document.getElementById('toast');
  box.className = 'show ' + kind;
  box.textContent = message;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.className = ''; }, 5000);
}

export const fmt = {
  time: (iso) => (iso ? new Date(iso).toLocaleString() : '—'),
  int: (n) => (n === null || n === undefined ? '—' : Number(n).toLocaleString()),
  ms: (n) => (n === null || n === undefined ? '—' : `${Math.round(n).toLocaleString()} ms`),
  usd: (n) => (n === null || n === undefined ? '—' : `$${Number(n).toFixed(n && n < 0.01 ? 6 : 2)}`),
  pct: (n) => (n === null || n === undefined || Number.isNaN(n) ? '—' : `${(n * 100).toFixed(1)}%`),
};

export function statusClass(code) {
  if (code >= 500) return 'status s5';
  if (code >= 400) return 'status s4';
  return 'status s2';
}

export function table(columns, rows, { caption, empty = 'Nothing here yet.' } = {}) {
  const head = h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c.label)));
  const body = rows.length
    ? rows.map((row) => h('tr', {}, columns.map((c) => h('td', { 'data-label': c.label }, c.cell(row)))))
    : [h('tr', {}, h('td', { colspan: String(columns.length), class: 'empty' }, empty))];
  return h('div', { class: 'table-wrap' },
    h('table', {}, caption ? h('caption', {}, caption) : null, h('thead', {}, head), h('tbody', {}, body)));
}

export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('small', {}, hint) : null);
}

// Copies `text`; the Clipboard API needs a secure context (localhost is one), the
// fallback covers plain http on another host name.
export async function copyText(text, source) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (!source) return false;
    source.select();
    return document.execCommand('copy');
  }
}

export function secretPanel(title, secret) {
  const input = h('input', { type: 'text', readOnly: true, value: secret, class: 'secret', 'aria-label': title, spellcheck: 'false' });
  const status = h('span', { class: 'copy-status', role: 'status' });
  const button = h('button', {
    type: 'button', class: 'copy',
    onclick: async () => {
      const ok = await copyText(secret, input);
      status.textContent = ok ? 'Copied.' : 'Copy failed: select the key and copy it.';
    },
  }, 'Copy');
  return h('div', { class: 'secret-panel', role: 'region', 'aria-label': title },
    h('strong', {}, title),
    h('p', {}, 'Shown once: it is stored only as a hash and cannot be shown again.'),
    h('div', { class: 'row' }, input, button, status));
}

export function pretty(text) {
  if (text === null || text === undefined) return null;
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
}
