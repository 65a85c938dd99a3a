// The admin API as the dashboard calls it: the session cookie authorises, every change
// carries the session's CSRF token (from the shell's <meta>), a 401 sends you to sign-in.

const CSRF = document.querySelector('meta[name="csrf-token"]')?.content || '';

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function query(params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const text = q.toString();
  return text ? `?${text}` : '';
}

export async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (method !== 'GET') headers['x-csrf-token'] = CSRF;
  const init = { method, headers, credentials: 'same-origin' };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401) {
    window.location.assign('/dashboard/login');
    throw new ApiError(401, 'Signed out.');
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = data?.error || {};
    throw new ApiError(response.status, error.message || response.statusText, error.code);
  }
  return data;
}

export const get = (path, params) => api('GET', path + query(params));
export const post = (path, body) => api('POST', path, body);
export const put = (path, body) => api('PUT', path, body);
export const del = (path) => api('DELETE', path);

// Users and backends by id, for showing names where the log and grants hold ids.
export async function names(kind) {
  const { data } = await get(`/admin/${kind}`);
  return Object.fromEntries(data.map((e) => [e.id, e.name]));
}
