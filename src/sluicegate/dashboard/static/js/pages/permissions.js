// Permissions: grants of a backend (every model on it) or a model glob to a user.
import { names } from '../api.js';
import { entityPage } from '../crud.js';

export async function render(main) {
  const [users, backends] = await Promise.all([names('users'), names('backends')]);
  const invert = (byId) => Object.fromEntries(Object.entries(byId).map(([id, name]) => [name, id]));
  const userIds = invert(users);
  const backendIds = invert(backends);
  await entityPage(main, {
    title: 'Permissions', noun: 'permission', path: '/admin/permissions',
    columns: [
      { label: 'User', cell: (p) => users[p.user_id] || p.user_id },
      { label: 'Grants', cell: (p) => (p.backend_id ? `backend ${backends[p.backend_id] || p.backend_id}` : `models ${p.model}`) },
    ],
    fields: [
      { name: 'user_id', label: 'User', kind: 'select', options: Object.keys(userIds), required: true,
        format: (id) => users[id] ?? Object.keys(userIds)[0] ?? '', parse: (name) => userIds[name] ?? name },
      { name: 'backend_id', label: 'Backend (every model on it)', kind: 'select', options: ['', ...Object.keys(backendIds)],
        format: (id) => (id ? backends[id] : ''), parse: (name) => (name ? backendIds[name] : null) },
      { name: 'model', label: 'or a model glob', hint: 'e.g. gpt-4o*; fill in exactly one of backend or glob.' },
    ],
  });
}
