// A management page for one admin collection: a table, a form in a modal <dialog> for
// create and edit (PUT sends every field: an emptied one resets to its default), delete with
// confirmation. Entities from the config file (`source: "config"`) are shown read-only.
import { ApiError, del, get, post, put } from './api.js';
import { clear, field, h, table, toast } from './ui.js';

const getPath = (obj, path) => path.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj);
function setPath(obj, path, value) {
  const keys = path.split('.');
  const last = keys.pop();
  let o = obj;
  for (const k of keys) o = o[k] ??= {};
  o[last] = value;
}

const KINDS = {
  text: { input: (f) => h('input', { type: 'text', spellcheck: 'false' }), read: (el) => el.value.trim() || null, write: (el, v) => { el.value = v ?? ''; } },
  password: { input: () => h('input', { type: 'password', autocomplete: 'off' }), read: (el) => el.value || null, write: (el) => { el.value = ''; } },
  number: { input: (f) => h('input', { type: 'number', step: f.step || 'any', min: f.min }), read: (el) => (el.value === '' ? null : Number(el.value)), write: (el, v) => { el.value = v ?? ''; } },
  select: { input: (f) => h('select', {}, f.options.map((o) => h('option', { value: o }, o))), read: (el) => el.value || null, write: (el, v) => { el.value = v ?? el.options[0]?.value; } },
  check: { input: () => h('input', { type: 'checkbox' }), read: (el) => el.checked, write: (el, v) => { el.checked = !!v; } },
  list: { input: () => h('input', { type: 'text', spellcheck: 'false' }), read: (el) => el.value.split(/[\s,]+/).filter(Boolean), write: (el, v) => { el.value = (v || []).join(', '); } },
  lines: { input: () => h('textarea', { rows: 3, spellcheck: 'false' }), read: (el) => el.value, write: (el, v) => { el.value = v ?? ''; } },
  json: { input: () => h('textarea', { rows: 3, spellcheck: 'false' }), read: (el) => (el.value.trim() ? JSON.parse(el.value) : null), write: (el, v) => { el.value = v && Object.keys(v).length ? JSON.stringify(v, null, 2) : ''; } },
};

export function readOnlyBadge() {
  return h('span', { class: 'badge', title: 'Defined in the config file: change the file and reload.' }, 'config file');
}

export async function entityPage(main, spec) {
  const { title, path, columns, fields, created, rowActions, headActions } = spec;
  const inputs = fields.map((f) => {
    const kind = KINDS[f.kind || 'text'];
    const el = kind.input(f);
    el.name = f.name;
    if (f.required) el.required = true;
    return { f, kind, el };
  });
  const error = h('p', { class: 'message', role: 'alert', hidden: true });
  const fieldset = h('fieldset', {}, inputs.map(({ f, el }) => field(f.label, el, f.hint)));
  const heading = h('h2', {});
  const submit = h('button', { type: 'submit' }, 'Save');
  const form = h('form', { method: 'dialog' }, heading, error, fieldset,
    h('div', { class: 'actions' }, submit, h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, 'Cancel')));
  const dialog = h('dialog', { class: 'editor' }, form);
  const list = h('div', { class: 'list' });
  const notice = h('div', { class: 'notice' });
  let editing = null;

  function open(entity, readOnly) {
    editing = entity;
    heading.textContent = entity ? `${readOnly ? 'View' : 'Edit'} ${entity.name ?? entity.id}` : `New ${spec.noun}`;
    for (const { f, kind, el } of inputs) {
      const value = entity ? getPath(entity, f.name) : f.default;
      if (f.format) el.value = f.format(value); else kind.write(el, value);
    }
    fieldset.disabled = !!readOnly;
    submit.hidden = !!readOnly;
    error.hidden = true;
    dialog.showModal();
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = {};
    try {
      for (const { f, kind, el } of inputs) {
        const value = f.parse ? f.parse(el.value) : kind.read(el);
        if (f.kind === 'password' && value === null) continue; // keep the stored secret
        if (!editing && (value === null || (Array.isArray(value) && !value.length))) continue;
        setPath(body, f.name, value);
      }
      const result = editing ? await put(`${path}/${editing.id}`, body) : await post(path, body);
      dialog.close();
      toast(`${spec.noun} ${result.name ?? ''} saved.`, 'ok');
      if (!editing && created) clear(notice, created(result));
      await refresh();
    } catch (e) {
      error.textContent = e instanceof ApiError || e instanceof SyntaxError ? e.message : String(e);
      error.hidden = false;
    }
  });

  async function remove(entity) {
    if (!window.confirm(`Delete ${spec.noun} ${entity.name ?? entity.id}?`)) return;
    try {
      await del(`${path}/${entity.id}`);
      toast(`${spec.noun} deleted.`, 'ok');
      await refresh();
    } catch (e) { toast(e.message, 'error'); }
  }

  const actions = (entity) => {
    const fromFile = entity.source === 'config';
    return h('div', { class: 'row-actions' },
      fromFile ? [readOnlyBadge(), h('button', { type: 'button', class: 'secondary', onclick: () => open(entity, true) }, 'View')]
        : [h('button', { type: 'button', class: 'secondary', onclick: () => open(entity, false) }, 'Edit'),
          h('button', { type: 'button', class: 'danger', onclick: () => remove(entity) }, 'Delete')],
      rowActions ? rowActions(entity, { refresh, notice }) : null);
  };

  async function refresh() {
    const { data } = await get(path);
    clear(list, table([...columns, { label: 'Actions', cell: actions }], data, { empty: `No ${spec.noun}s yet.` }));
  }

  main.append(
    h('div', { class: 'page-head' }, h('h1', {}, title),
      h('div', { class: 'row' }, headActions || null,
        h('button', { type: 'button', id: 'new', onclick: () => open(null, false) }, `New ${spec.noun}`))),
    notice, list, dialog);
  await refresh();
  return { refresh, notice };
}
