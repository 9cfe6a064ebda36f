// The cgw dashboard: one page, no build step. Data comes from the gateway's REST API with the
// token the user gives once (or as #token=... in the URL fragment, which never reaches a server),
// kept in this tab's sessionStorage. Every element is built with DOM calls, never from HTML
// strings, so names from the API cannot inject markup.
'use strict';

const TOKEN_KEY = 'cgw-token';
const PAGE_ROWS = 50;
const REFRESH_MS = 2000;

const state = { view: null, page: {}, filter: '', timer: null, selected: null };

// ---------------------------------------------------------------- helpers

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children) node.append(child);
  return node;
}

function bytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (Number.isInteger(v) ? v : v.toFixed(v < 10 ? 2 : 1)) + ' ' + units[i];
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : '—';
}

function lag(ms) {
  if (ms === null || ms === undefined) return '—';
  return ms < 10000 ? ms + ' ms' : (ms / 1000).toFixed(1) + ' s';
}

// ---------------------------------------------------------------- the API

class ApiError extends Error {
  constructor(status, error, detail) {
    super(status + ' ' + error + (detail ? ': ' + detail : ''));
    this.status = status;
  }
}

async function api(method, path, body) {
  const headers = { Authorization: 'Bearer ' + sessionStorage.getItem(TOKEN_KEY) };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store',
  });
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) {
    throw new ApiError(response.status, json && json.error ? json.error : response.statusText,
      json && json.detail ? json.detail : '');
  }
  return json;
}

function showError(error) {
  document.getElementById('error-text').textContent = error instanceof ApiError ? error.message : String(error);
  document.getElementById('error').hidden = false;
  if (error instanceof ApiError && error.status === 401) logout();
}

function clearError() {
  document.getElementById('error').hidden = true;
}

/** Runs an action a user asked for; its error is shown as the API words it. */
async function act(button, action) {
  button.disabled = true;
  try {
    clearError();
    await action();
    await render();
  } catch (error) {
    showError(error);
  } finally {
    button.disabled = false;
  }
}

function pager(key, total, redraw) {
  const pages = Math.max(1, Math.ceil(total / PAGE_ROWS));
  const page = Math.min(state.page[key] || 0, pages - 1);
  state.page[key] = page;
  const go = (p) => { state.page[key] = p; redraw(); };
  return {
    from: page * PAGE_ROWS,
    to: Math.min(total, (page + 1) * PAGE_ROWS),
    node: el('div', { class: 'pager' },
      el('button', { type: 'button', disabled: page === 0, onclick: () => go(page - 1) }, '‹ Previous'),
      el('span', { class: 'muted', 'data-pages': pages }, `page ${page + 1} of ${pages} (${total})`),
      el('button', { type: 'button', disabled: page >= pages - 1, onclick: () => go(page + 1) }, 'Next ›')),
  };
}

// ---------------------------------------------------------------- login

function login() {
  const input = el('input', { type: 'password', id: 'token', autocomplete: 'off', required: true,
    placeholder: 'contents of DATA/api-token (or read-token)' });
  const form = el('form', { class: 'login', id: 'login' },
    el('section', {},
      el('h2', {}, 'Log in'),
      el('p', { class: 'muted' }, 'The gateway\'s API token. It stays in this tab only.'),
      input,
      el('button', { type: 'submit', class: 'primary' }, 'Log in')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    try {
      await api('GET', '/v1/volumes');
      clearError();
      location.hash = '#volumes';
      start();
    } catch (error) {
      sessionStorage.removeItem(TOKEN_KEY);
      showError(error);
    }
  });
  document.getElementById('main').replaceChildren(form);
  input.focus();
}

function logout() {
  sessionStorage.removeItem(TOKEN_KEY);
  clearInterval(state.timer);
  state.timer = null;
  document.getElementById('nav').hidden = true;
  document.getElementById('logout').hidden = true;
  login();
}

// ---------------------------------------------------------------- volumes

async function volumesView() {
  const { volumes } = await api('GET', '/v1/volumes');
  const filter = el('input', { type: 'search', id: 'volume-filter', placeholder: 'filter by name or group',
    value: state.filter });
  const body = el('div', {});
  const draw = () => {
    const shown = volumes.filter((v) => !state.filter || v.name.includes(state.filter)
      || (v.group || '').includes(state.filter));
    const page = pager('volumes', shown.length, draw);
    body.replaceChildren(
      el('table', { id: 'volumes-table' },
        el('thead', {}, el('tr', {}, el('th', {}, 'Name'), el('th', { class: 'num' }, 'Size'),
          el('th', { class: 'num' }, 'Allocated'), el('th', {}, 'Group'),
          el('th', { class: 'num' }, 'Connections'), el('th', {}, 'Cloned from'), el('th', {}, 'Created'))),
        el('tbody', {}, shown.slice(page.from, page.to).map((v) => el('tr', { 'data-volume': v.name },
          el('td', {}, v.name), el('td', { class: 'num' }, bytes(v.size)),
          el('td', { class: 'num' }, bytes(v.allocated)),
          el('td', {}, v.group ? el('a', { href: '#groups/' + encodeURIComponent(v.group) }, v.group) : '—'),
          el('td', { class: 'num' }, v.connections), el('td', {}, v.parent || '—'),
          el('td', {}, when(v.createdAt)))))),
      page.node);
  };
  filter.addEventListener('input', () => { state.filter = filter.value; state.page.volumes = 0; draw(); });
  draw();
  return [el('section', {}, el('h2', {}, `Volumes (${volumes.length})`), filter, body)];
}

// ---------------------------------------------------------------- groups

async function groupsView() {
  const { groups } = await api('GET', '/v1/groups');
  const replication = await replicationOf(groups);
  return [el('section', {}, el('h2', {}, `Groups (${groups.length})`),
    el('table', { id: 'groups-table' },
      el('thead', {}, el('tr', {}, el('th', {}, 'Name'), el('th', {}, 'Volumes'), el('th', {}, 'Replication'),
        el('th', { class: 'num' }, 'Lag'))),
      el('tbody', {}, groups.map((g) => {
        const r = replication[g.name];
        return el('tr', { 'data-group': g.name },
          el('td', {}, el('a', { href: '#groups/' + encodeURIComponent(g.name) }, g.name)),
          el('td', {}, g.volumes.join(', ')),
          el('td', {}, r && r.state !== 'stopped' ? `${r.role}, ${r.state}` : '—'),
          el('td', { class: 'num' }, r ? lag(r.lagMs) : '—'));
      }))))];
}

async function replicationOf(groups) {
  const statuses = await Promise.all(groups.map((g) => api('GET', '/v1/groups/' + encodeURIComponent(g.name)
    + '/replication').catch(() => null)));
  return Object.fromEntries(groups.map((g, i) => [g.name, statuses[i]]));
}

function timeline(snapshots) {
  const width = 1000;
  const height = 90;
  const chart = svg('svg', { class: 'timeline', viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none',
    role: 'img', 'aria-label': 'snapshots over time, bar height by freeze time' });
  chart.append(svg('line', { class: 'axis', x1: 0, y1: height - 14, x2: width, y2: height - 14 }));
  if (snapshots.length === 0) return chart;
  const times = snapshots.map((s) => Date.parse(s.createdAt));
  const first = Math.min(...times);
  const span = Math.max(1, Math.max(...times) - first);
  const slowest = Math.max(1, ...snapshots.map((s) => s.freezeMicros));
  snapshots.forEach((s, i) => {
    const x = 4 + ((times[i] - first) / span) * (width - 8);
    const h = 4 + (s.freezeMicros / slowest) * (height - 24);
    chart.append(svg('rect', { x: x - 1.5, y: height - 14 - h, width: 3, height: h },
      svg('title', {}, `#${s.id} ${s.label || ''} ${when(s.createdAt)}: I/O held ${s.freezeMicros} µs`)));
  });
  const label = (x, anchor, text) => {
    const t = svg('text', { x, y: height - 2, 'text-anchor': anchor });
    t.textContent = text;
    return t;
  };
  chart.append(label(0, 'start', when(new Date(first).toISOString())),
    label(width, 'end', when(new Date(first + span).toISOString())));
  return chart;
}

async function groupView(name) {
  const path = '/v1/groups/' + encodeURIComponent(name);
  const [group, { snapshots }, replication] = await Promise.all([api('GET', path),
    api('GET', '/v1/snapshots?group=' + encodeURIComponent(name)), api('GET', path + '/replication')]);
  const newest = snapshots.slice().reverse();
  const label = el('input', { type: 'text', id: 'snapshot-label', placeholder: 'label (optional)' });
  const take = el('button', { type: 'submit', class: 'primary', id: 'take-snapshot' }, 'Take snapshot');
  const form = el('form', { class: 'inline' }, label, take);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    act(take, () => api('POST', path + '/snapshots', label.value ? { label: label.value } : {}));
  });
  const body = el('div', {});
  const draw = () => {
    const page = pager('snapshots:' + name, newest.length, draw);
    body.replaceChildren(el('table', { id: 'snapshots-table' },
      el('thead', {}, el('tr', {}, el('th', { class: 'num' }, 'ID'), el('th', {}, 'Label'), el('th', {}, 'Taken'),
        el('th', { class: 'num' }, 'I/O held (µs)'), el('th', {}, ''))),
      el('tbody', {}, newest.slice(page.from, page.to).map((s) => el('tr', { 'data-snapshot': s.id },
        el('td', { class: 'num' }, s.id), el('td', {}, s.label || ''), el('td', {}, when(s.createdAt)),
        el('td', { class: 'num freeze' }, s.freezeMicros),
        el('td', {}, el('button', { type: 'button', class: 'choose', onclick: () => choose(s) }, 'Clone or export…')))))),
    page.node);
  };
  draw();
  return [
    el('section', {}, el('h2', {}, 'Group ', name), el('p', { class: 'muted' }, 'Volumes: ', group.volumes.join(', ')),
      replicationPanel(replication), form),
    el('section', { id: 'action-panel' }, actionPanel(name)),
    el('section', {}, el('h2', {}, `Snapshots (${snapshots.length})`), timeline(snapshots), body),
  ];
}

function replicationPanel(r) {
  if (!r || r.state === 'stopped') return el('p', { class: 'muted', id: 'replication' }, 'Not replicated.');
  return el('dl', { class: 'panel', id: 'replication' },
    el('dt', {}, 'Replication'), el('dd', {}, `${r.role}, ${r.state}`),
    el('dt', {}, 'Target'), el('dd', {}, r.target || '—'),
    el('dt', {}, 'Lag'), el('dd', { id: 'replication-lag' }, lag(r.lagMs)),
    el('dt', {}, 'Last epoch'), el('dd', {}, r.lastSnapshot ? `#${r.lastSnapshot} at ${when(r.lastSnapshotAt)}` : '—'),
    r.error ? [el('dt', {}, 'Error'), el('dd', { class: 'state-failed' }, r.error)] : []);
}

function choose(snapshot) {
  state.selected = snapshot;
  const panel = document.getElementById('action-panel');
  if (panel) panel.replaceChildren(...[actionPanel(snapshot.group)].flat());
}

/** Clone and export forms for the chosen snapshot: outside the refreshed tables, so typing survives a refresh. */
function actionPanel(group) {
  const s = state.selected && state.selected.group === group ? state.selected : null;
  if (!s) return el('p', { class: 'muted' }, 'Choose a snapshot below to clone or export it.');
  const prefix = el('input', { type: 'text', id: 'clone-prefix', required: true, placeholder: 'prefix, e.g. drill-' });
  const clone = el('button', { type: 'submit', id: 'clone' }, 'Clone');
  const cloneForm = el('form', { class: 'inline' }, 'Writable clones named PREFIX+VOLUME:', prefix, clone);
  cloneForm.addEventListener('submit', (event) => {
    event.preventDefault();
    act(clone, () => api('POST', `/v1/snapshots/${s.id}/clone`, { prefix: prefix.value }));
  });
  const target = el('input', { type: 'text', id: 'export-target', required: true, size: 40,
    placeholder: 'file:///srv/backups/db or s3://bucket/prefix' });
  const from = el('input', { type: 'number', id: 'export-from', min: 1, placeholder: 'incremental from (ID)' });
  const exportButton = el('button', { type: 'submit', id: 'export' }, 'Export');
  const exportForm = el('form', { class: 'inline' }, 'Back up to:', target, from, exportButton);
  exportForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const request = { target: target.value };
    if (from.value) request.incrementalFrom = Number(from.value);
    act(exportButton, async () => {
      await api('POST', `/v1/snapshots/${s.id}/export`, request);
      location.hash = '#jobs';
    });
  });
  return [el('h2', {}, `Snapshot #${s.id}`, s.label ? ` (${s.label})` : ''), cloneForm, el('h3', {}, ''), exportForm];
}

// ---------------------------------------------------------------- jobs

async function jobsView() {
  const { jobs } = await api('GET', '/v1/jobs');
  return [el('section', {}, el('h2', {}, `Backup jobs (${jobs.length})`),
    jobs.length === 0 ? el('p', { class: 'muted' }, 'No export or restore since the gateway started.') : null,
    el('table', { id: 'jobs-table' },
      el('thead', {}, el('tr', {}, el('th', { class: 'num' }, 'ID'), el('th', {}, 'Kind'),
        el('th', { class: 'num' }, 'Snapshot'), el('th', {}, 'Where'), el('th', {}, 'State'),
        el('th', {}, 'Progress'), el('th', {}, ''))),
      el('tbody', {}, jobs.map((j) => {
        const percent = j.bytesTotal > 0 ? Math.floor((100 * j.bytesDone) / j.bytesTotal) : 0;
        const cancel = el('button', { type: 'button', class: 'cancel' }, 'Cancel');
        cancel.addEventListener('click', () => act(cancel, () => api('DELETE', '/v1/jobs/' + j.id)));
        return el('tr', { 'data-job': j.id },
          el('td', { class: 'num' }, j.id), el('td', {}, j.kind), el('td', { class: 'num' }, j.snapshot),
          el('td', {}, j.target || j.source || ''),
          el('td', { class: 'state state-' + j.state }, j.state, j.error ? ': ' + j.error : ''),
          el('td', {}, el('progress', { max: 100, value: j.state === 'done' ? 100 : percent }), ' ',
            `${bytes(j.bytesDone)} of ${bytes(j.bytesTotal)}`),
          el('td', {}, j.state === 'running' ? cancel : null));
      }))))];
}

// ---------------------------------------------------------------- routing

const VIEWS = { volumes: volumesView, groups: groupsView, jobs: jobsView };

async function render() {
  const [view, arg] = location.hash.slice(1).split('/');
  const name = VIEWS[view] ? view : 'volumes';
  document.querySelectorAll('#nav a').forEach((a) => a.classList.toggle('active', a.dataset.view === name));
  const focused = document.activeElement && document.activeElement.id;
  try {
    const sections = name === 'groups' && arg ? await groupView(decodeURIComponent(arg)) : await VIEWS[name]();
    const main = document.getElementById('main');
    // a refresh keeps what the user is typing: forms outside the tables survive, and focus returns
    const panel = document.getElementById('action-panel');
    main.replaceChildren(...sections);
    const fresh = document.getElementById('action-panel');
    if (panel && fresh && state.selected) fresh.replaceWith(panel);
    if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
    main.dataset.view = name;
  } catch (error) {
    showError(error);
  }
}

function start() {
  document.getElementById('nav').hidden = false;
  document.getElementById('logout').hidden = false;
  clearInterval(state.timer);
  state.timer = setInterval(() => {
    if (!document.hidden && !document.querySelector('form input:focus')) render();
  }, REFRESH_MS);
  render();
}

/** A token passed as #token=... is kept in this tab and taken out of the address bar and history. */
function takeToken() {
  const match = location.hash.match(/^#token=([^&]+)/);
  if (!match) return false;
  sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
  history.replaceState(null, '', location.pathname + '#volumes');
  return true;
}

window.addEventListener('hashchange', () => {
  const fresh = takeToken();
  if (fresh) clearError();
  if (sessionStorage.getItem(TOKEN_KEY)) {
    state.selected = null;
    if (fresh || !state.timer) start(); else render();
  }
});

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('error-close').addEventListener('click', clearError);
  document.getElementById('logout').addEventListener('click', logout);
  takeToken();
  if (sessionStorage.getItem(TOKEN_KEY)) start(); else login();
});
