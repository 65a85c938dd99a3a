// Backends: upstream servers. `api_key` is write-only (the API never returns it).
import { post } from '../api.js';
import { entityPage } from '../crud.js';
import { h, toast } from '../ui.js';

export async function render(main) {
  const reload = h('button', { type: 'button', class: 'secondary', onclick: async () => {
    try {
      const r = await post('/admin/reload');
      toast(`Config file reloaded: ${r.backends} backends, ${r.models} models, ${r.users} users.`, 'ok');
      window.dispatchEvent(new HashChangeEvent('hashchange'));
    } catch (e) { toast(e.message, 'error'); }
  } }, 'Reload config file');
  await entityPage(main, {
    title: 'Backends', noun: 'backend', path: '/admin/backends', headActions: reload,
    columns: [
      { label: 'Name', cell: (b) => b.name },
      { label: 'Type', cell: (b) => b.type },
      { label: 'Base URL', cell: (b) => b.base_url || '—' },
      { label: 'Models', cell: (b) => (b.models || []).join(', ') || '—' },
      { label: 'API key', cell: (b) => (b.api_key_set ? 'set' : '—') },
    ],
    fields: [
      { name: 'name', label: 'Name', required: true },
      { name: 'type', label: 'Type', kind: 'select', options: ['openai', 'anthropic', 'gemini', 'azure', 'demo'] },
      { name: 'base_url', label: 'Base URL' },
      { name: 'api_key', label: 'API key', kind: 'password', hint: 'Write-only; leave empty to keep the stored key.' },
      { name: 'models', label: 'Models', kind: 'list', hint: 'Served models, comma-separated.' },
      { name: 'api_version', label: 'API version (azure)' },
      { name: 'responses', label: '/v1/responses', kind: 'select', options: ['translate', 'native'] },
      { name: 'max_retries', label: 'Max retries', kind: 'number', min: '0', step: '1' },
      { name: 'timeouts.connect', label: 'Connect timeout (s)', kind: 'number' },
      { name: 'timeouts.first_token', label: 'First-token timeout (s)', kind: 'number' },
      { name: 'timeouts.idle', label: 'Idle timeout (s)', kind: 'number' },
      { name: 'timeouts.total', label: 'Total timeout (s)', kind: 'number' },
      { name: 'cooldown.failures', label: 'Cooldown after failures', kind: 'number', step: '1' },
      { name: 'cooldown.seconds', label: 'Cooldown (s)', kind: 'number' },
      { name: 'headers', label: 'Extra headers (JSON)', kind: 'json' },
    ],
  });
}
