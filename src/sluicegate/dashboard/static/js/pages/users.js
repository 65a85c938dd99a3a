// Users and their keys: a new user's key and every added key are shown once, with a copy
// button; keys are listed by prefix and revoked here.
import { del, get, post } from '../api.js';
import { entityPage } from '../crud.js';
import { clear, fmt, h, secretPanel, table, toast } from '../ui.js';

function keysDialog(user, notice) {
  const list = h('div', {});
  const dialog = h('dialog', { class: 'editor' });
  async function refresh() {
    const { data } = await get(`/admin/users/${user.id}/keys`);
    clear(list, table([
      { label: 'Prefix', cell: (k) => h('code', {}, k.prefix) },
      { label: 'Created', cell: (k) => fmt.time(k.created_at) },
      { label: 'Last used', cell: (k) => fmt.time(k.last_used_at) },
      { label: 'State', cell: (k) => (k.revoked_at ? `revoked ${fmt.time(k.revoked_at)}` : 'active') },
      { label: 'Actions', cell: (k) => (k.revoked_at || k.source === 'config' ? (k.source === 'config' ? 'config file' : '') : h('button', {
        type: 'button', class: 'danger', onclick: async () => {
          if (!window.confirm(`Revoke key ${k.prefix}?`)) return;
          try { await del(`/admin/keys/${k.id}`); toast('Key revoked.', 'ok'); await refresh(); } catch (e) { toast(e.message, 'error'); }
        } }, 'Revoke')) },
    ], data, { caption: `Keys of ${user.name}` }));
  }
  const add = h('button', { type: 'button', onclick: async () => {
    try {
      const key = await post(`/admin/users/${user.id}/keys`);
      dialog.close();
      clear(notice, secretPanel(`New key for ${user.name}`, key.api_key));
      notice.querySelector('button.copy').focus();
    } catch (e) { toast(e.message, 'error'); }
  } }, 'Add a key');
  dialog.append(h('h2', {}, `Keys of ${user.name}`), list,
    h('div', { class: 'actions' }, add, h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, 'Close')));
  document.getElementById('main').append(dialog);
  dialog.addEventListener('close', () => dialog.remove());
  refresh().then(() => dialog.showModal(), (e) => toast(e.message, 'error'));
}

export async function render(main) {
  await entityPage(main, {
    title: 'Users', noun: 'user', path: '/admin/users',
    columns: [
      { label: 'Name', cell: (u) => u.name },
      { label: 'Models', cell: (u) => u.models.join(', ') || 'none' },
      { label: 'RPM / TPM', cell: (u) => `${u.rpm ?? '∞'} / ${u.tpm ?? '∞'}` },
      { label: 'Budget', cell: (u) => (u.budget_usd == null ? '—' : `${fmt.usd(u.budget_usd)} / ${u.budget_period}`) },
      { label: 'Bodies logged', cell: (u) => (u.detail_logging ? 'yes' : 'no') },
      { label: 'Keys', cell: (u) => String(u.keys.filter((k) => !k.revoked_at).length) },
    ],
    fields: [
      { name: 'name', label: 'Name', required: true },
      { name: 'models', label: 'Models', kind: 'list', hint: 'Model globs this user may call, e.g. gpt-4o*, *' },
      { name: 'rpm', label: 'Requests per minute', kind: 'number', step: '1', min: '0' },
      { name: 'tpm', label: 'Tokens per minute', kind: 'number', step: '1', min: '0' },
      { name: 'budget_usd', label: 'Budget (USD)', kind: 'number', min: '0' },
      { name: 'budget_period', label: 'Budget period', kind: 'select', options: ['month', 'week', 'day'] },
      { name: 'detail_logging', label: 'Log request and response bodies', kind: 'check' },
      { name: 'copy_reasoning_to_reasoning_content', label: 'Copy reasoning to reasoning_content', kind: 'check' },
      { name: 'model_limits', label: 'Per-model limits (JSON)', kind: 'json', hint: '{"gpt-4o": {"rpm": 10}}' },
    ],
    created: (user) => {
      const panel = secretPanel(`API key of ${user.name}`, user.api_key);
      setTimeout(() => panel.querySelector('button.copy').focus());
      return panel;
    },
    rowActions: (user, { notice }) => h('button', { type: 'button', class: 'secondary', onclick: () => keysDialog(user, notice) }, 'Keys'),
  });
}
