// One logged request: its fields, the attempts as a timeline, and its bodies, with the
// request's messages and the (compact stream or JSON) response shown as a conversation.
import { get } from '../api.js';
import { fmt, h, pretty, statusClass } from '../ui.js';

function parse(text) {
  try { return JSON.parse(text); } catch { return null; }
}

function partsText(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((p) => p.text ?? `[${p.type}]`).join('\n');
  return content == null ? '' : JSON.stringify(content);
}

function toolCalls(calls) {
  return (calls || []).map((c) => h('div', { class: 'tool-call' },
    h('span', { class: 'tag' }, 'tool call'), ` ${c.function?.name ?? c.name ?? '?'}`,
    h('pre', {}, pretty(c.function?.arguments ?? JSON.stringify(c.input ?? c.arguments ?? '')))));
}

function bubble(role, { content, reasoning, calls } = {}) {
  return h('div', { class: `msg ${role}` },
    h('div', { class: 'role' }, role),
    reasoning ? h('details', { class: 'reasoning' }, h('summary', {}, 'Reasoning'), h('pre', {}, reasoning)) : null,
    content ? h('pre', { class: 'content' }, content) : null,
    toolCalls(calls));
}

export function conversation(requestBody, responseBody) {
  const out = [];
  const request = parse(requestBody);
  for (const m of request?.messages || []) {
    out.push(bubble(m.role, { content: partsText(m.content), calls: m.tool_calls }));
  }
  if (request && !request.messages && request.input !== undefined) out.push(bubble('user', { content: partsText(request.input) }));
  const response = parse(responseBody);
  const choices = response?.choices || [];
  for (const c of choices) {
    const m = c.message || c; // compact stream choices hold the fields directly
    out.push(bubble(m.role || 'assistant', {
      content: partsText(m.content), reasoning: m.reasoning || m.reasoning_content, calls: m.tool_calls,
    }));
  }
  if (response?.format === 'sluicegate.chat_stream.compact.v1') {
    out.push(h('p', { class: 'note' }, `Streamed: ${response.stream?.chunks ?? '?'} chunks, ${response.stream?.done ? 'finished with [DONE]' : 'not finished'}.`));
  } else if (responseBody && !response) {
    out.push(h('p', { class: 'note' }, 'The response was stored as raw SSE text (see the body below).'));
  }
  return out;
}

export function timeline(attempts) {
  const total = attempts.reduce((acc, a) => acc + a.latency_ms, 0) || 1;
  return h('ol', { class: 'timeline', 'aria-label': 'Attempts' }, attempts.map((a, i) => {
    const bar = h('span', { class: `bar ${a.error_type ? 'failed' : 'ok'}` });
    bar.style.width = `${Math.max(2, (100 * a.latency_ms) / total)}%`;
    return h('li', {},
      h('div', { class: 'attempt-label' }, `#${i + 1} ${a.backend} / ${a.model} → `,
        h('span', { class: statusClass(a.status_code || 0) }, a.status_code ?? 'no status'),
        a.error_type ? ` ${a.error_type}` : '', ` · ${fmt.ms(a.latency_ms)}`),
      h('div', { class: 'track' }, bar));
  }));
}

export async function render(main, id) {
  const row = await get(`/admin/analytics/requests/${encodeURIComponent(id)}`);
  const facts = [
    ['Request id', row.request_id], ['Time', fmt.time(row.created_at)], ['User', row.user_id || '—'],
    ['Key', row.key_id || '—'], ['Path', row.path], ['Model', row.model || '—'],
    ['Resolved model', row.resolved_model || '—'], ['Backend', row.backend || '—'],
    ['Stream', row.stream ? 'yes' : 'no'], ['Status', row.status_code], ['Error', row.error_type || '—'],
    ['Error message', row.error_message || '—'],
    ['Tokens', `${fmt.int(row.prompt_tokens)} in · ${fmt.int(row.completion_tokens)} out · ${fmt.int(row.total_tokens)} total`],
    ['Cost', fmt.usd(row.cost_usd)], ['Latency', fmt.ms(row.latency_ms)], ['TTFT', fmt.ms(row.ttft_ms)],
    ['Client IP', row.client_ip || '—'],
  ];
  main.append(
    h('p', {}, h('a', { href: '#/requests' }, '← Request log')),
    h('h1', {}, `Request ${row.id}`),
    h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))])),
    h('section', { 'aria-labelledby': 'attempts-h' }, h('h2', { id: 'attempts-h' }, 'Attempts'),
      row.attempts.length ? timeline(row.attempts) : h('p', {}, 'No upstream attempt was made.')),
    h('section', { 'aria-labelledby': 'conv-h' }, h('h2', { id: 'conv-h' }, 'Conversation'),
      row.detail_logged ? h('div', { class: 'conversation' }, conversation(row.request_body, row.response_body))
        : h('p', {}, 'Bodies are logged only for users with detail_logging.')),
    row.detail_logged ? h('section', { 'aria-labelledby': 'bodies-h' }, h('h2', { id: 'bodies-h' }, 'Bodies'),
      h('details', { open: true }, h('summary', {}, 'Request body'), h('pre', { id: 'request-body' }, pretty(row.request_body) ?? '—')),
      h('details', {}, h('summary', {}, 'Response body'), h('pre', { id: 'response-body' }, pretty(row.response_body) ?? '—'))) : null,
  );
}
