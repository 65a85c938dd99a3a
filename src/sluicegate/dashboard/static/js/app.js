// The dashboard shell: hash routes (#/page/arg?query) → one page module each, loaded on
// demand. A page's render() may return a cleanup function (the live tail closes its stream).
import { clear, h } from './ui.js';

const PAGES = {
  overview: () => import('./pages/overview.js'),
  requests: () => import('./pages/requests.js'),
  live: () => import('./pages/live.js'),
  backends: () => import('./pages/backends.js'),
  models: () => import('./pages/models.js'),
  users: () => import('./pages/users.js'),
  permissions: () => import('./pages/permissions.js'),
};

let cleanup = null;
let renders = 0;

export function parseHash() {
  const [path, search = ''] = window.location.hash.replace(/^#\/?/, '').split('?');
  const [page, ...rest] = path.split('/');
  return { page: page || 'overview', args: rest.map(decodeURIComponent), params: new URLSearchParams(search) };
}

async function route() {
  const main = document.getElementById('main');
  main.setAttribute('aria-busy', 'true');
  const { page, args, params } = parseHash();
  if (cleanup) { cleanup(); cleanup = null; }
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.getAttribute('href') === `#/${page}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const load = PAGES[page];
  if (!load) {
    clear(main, h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/overview' }, 'Go to the overview')));
    return;
  }
  try {
    const module = await load();
    clear(main);
    cleanup = (await module.render(main, { args, params })) || null;
  } catch (error) {
    clear(main, h('h1', {}, 'Something went wrong'), h('p', { class: 'message', role: 'alert' }, error.message));
  }
  document.title = `${page[0].toUpperCase()}${page.slice(1)} · sluicegate`;
  main.removeAttribute('aria-busy');
  renders += 1;
  document.body.dataset.renders = String(renders); // lets tests wait for a finished render
}

// The skip link moves focus without touching the hash (the hash is the route).
document.querySelector('.skip').addEventListener('click', (event) => {
  event.preventDefault();
  document.getElementById('main').focus();
});
window.addEventListener('hashchange', () => { route(); document.getElementById('main').focus(); });
route();
