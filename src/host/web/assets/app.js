// The page of the MCP host's web UI. It talks to the host's backend through
// the JSON API (GET/POST /api/...) and follows its live events
// (GET /api/events, Server-Sent Events). Plain DOM code: no framework, no
// build step, nothing loaded from elsewhere, so it works offline.
//
// Safety: everything that comes from a server reaches the page through
// textContent, element properties or attributes, never as HTML.
'use strict';

// ---------------------------------------------------------------------------
// DOM helpers

/** Element properties `el` sets directly; every other key is an attribute. */
const PROPERTIES = new Set(['textContent', 'value', 'checked', 'disabled', 'hidden', 'selected', 'open', 'multiple', 'required']);

/**
 * Makes an element: el('button', {class: 'x', testid: 'y', onclick: f}, 'text', child).
 * Keys starting with "on" add listeners, `testid` sets data-testid, `dataset`
 * sets data-* attributes; undefined, null and false values are left out, and
 * string children become text nodes (never HTML).
 */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'testid') node.dataset.testid = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (PROPERTIES.has(key)) node[key] = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  node.append(...present(children));
  return node;
}

/** Children to put in the page: nested lists flattened, missing ones (null, undefined, false) left out. */
function present(children) {
  return children.flat(Infinity).filter((child) => child !== null && child !== undefined && child !== false);
}

/** Replaces the children of the element with id `id`, leaving out missing ones. */
function fill(id, ...children) {
  $(id).replaceChildren(...present(children));
}

const $ = (id) => document.getElementById(id);

/** A red line saying what went wrong, for the place where it went wrong. */
function errorBox(message) {
  return el('div', { class: 'error-box', role: 'alert', testid: 'error', textContent: message });
}

/** A value as short text: strings as they are, anything else as JSON. */
function asText(value) {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

const isPlainObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);

// ---------------------------------------------------------------------------
// Talking to the backend

/** A failed API call, with the backend's own {error} message. */
class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/**
 * Calls the backend: a GET when `body` is undefined, else a POST of `body` as
 * JSON. Resolves to the parsed answer; rejects with an ApiError whose
 * message is the backend's {error} (or says why there is none).
 */
async function api(path, body) {
  const init = body === undefined
    ? {}
    : { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
  let response;
  let text;
  try {
    response = await fetch(path, init);
    text = await response.text();
  } catch (error) {
    throw new ApiError(`The host did not answer (${error.message}).`, 0);
  }
  let data = null;
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    // Not JSON: reported below in words.
  }
  if (!response.ok) {
    const reason = data && typeof data.error === 'string' ? data.error : `${response.status} ${response.statusText}`.trim();
    throw new ApiError(reason, response.status);
  }
  if (!isPlainObject(data)) throw new ApiError(`The host's answer to ${path} is not a JSON object.`, response.status);
  return data;
}

/** Shows a message at the top of the page (errors stay until dismissed). */
function notify(message, kind = 'error') {
  const notice = el('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status', testid: 'notice' },
    el('span', { textContent: message }),
    el('button', { type: 'button', class: 'dismiss', 'aria-label': 'Dismiss', textContent: '×', onclick: () => notice.remove() }));
  const notices = $('notices');
  notices.append(notice);
  while (notices.children.length > 5) notices.firstChild.remove();
  if (kind !== 'error') setTimeout(() => notice.remove(), 6000);
}

/**
 * Wraps an event handler so that whatever it throws, now or later, is shown
 * to the user instead of becoming an uncaught error. It runs the handler
 * synchronously, so the handler can still call event.preventDefault().
 */
function guard(handler) {
  return (...args) => {
    try {
      const result = handler(...args);
      if (result && typeof result.catch === 'function') result.catch((error) => notify(error.message));
    } catch (error) {
      notify(error.message);
    }
  };
}

// ---------------------------------------------------------------------------
// What the page knows

const app = {
  state: null, // the last GET /api/state answer or `state` event
  tools: [],
  selectedTool: null, // name of the tool shown on the right
  toolResults: new Map(), // tool name -> its result area, kept while another tool is shown
  callProgress: new Map(), // tool name -> {bar, status} of a call waiting for its answer
  resources: [],
  templates: [],
  resourceView: null, // {uri, body, flash} of the resource shown, re-read when it changes
  prompts: [],
  selectedPrompt: null, // name of the prompt shown on the right
  chat: null, // the chat turn running in this page (see startTurn)
  dialogs: new Map(), // id -> <dialog> of a sampling approval or elicitation
  progressRows: new Map(), // progress token name -> its log row, until it completes
  unread: 0, // log entries arrived while the Log tab was hidden
  liveLost: false, // whether the event stream dropped since it last opened
  historyCapacity: 500, // how many messages the backend keeps (GET /api/history says)
};

// ---------------------------------------------------------------------------
// Tabs

const TABS = ['tools', 'resources', 'prompts', 'chat', 'log', 'history', 'session'];

function showTab(name) {
  for (const button of document.querySelectorAll('[data-tab]')) {
    button.setAttribute('aria-selected', String(button.dataset.tab === name));
  }
  for (const panel of document.querySelectorAll('.panel')) panel.hidden = panel.id !== `panel-${name}`;
  // Remembered in the address, so a reload comes back to the same tab.
  history.replaceState(null, '', `#${name}`);
  if (name === 'log') {
    app.unread = 0;
    renderUnread();
  }
}

function currentTab() {
  return TABS.find((name) => !$(`panel-${name}`).hidden);
}

// ---------------------------------------------------------------------------
// Connection, servers, session

/** Applies a new state (from GET /api/state or a `state` event) everywhere. */
function renderState(state) {
  const wasConnected = app.state?.connection?.status === 'connected';
  const serversMoved = serverStates(app.state) !== serverStates(state);
  app.state = state;
  const connection = state.connection ?? {};
  renderConnection(connection);
  renderSignIn(state.signIn);
  renderServers(state.servers, connection.status);
  renderSessionInfo(connection);
  renderModel(state.model, state.autoApprove);
  $('connect-kind').querySelector('[value="command"]').disabled = state.allowCommands === false;
  renderRoots(state.roots ?? []);
  renderSubscriptions();
  // The tool and prompt groups show their server's state too.
  if (serversMoved && app.tools.length > 0) renderToolList();
  if (serversMoved && app.prompts.length > 0) renderPromptList();
  // Lists are fetched when the connection (re)appears; while there is none,
  // the panels say so instead of showing requests fail.
  if (connection.status === 'connected' && !wasConnected) loadLists();
  if (connection.status !== 'connected' && !wasConnected) showListsUnavailable(connection);
}

/** The downstream servers' names and states, to see whether they changed. */
function serverStates(state) {
  return JSON.stringify((state?.servers ?? []).map((server) => [server.name, server.state]));
}

function renderConnection(connection) {
  const status = $('conn-status');
  status.textContent = connection.status ?? 'unknown';
  status.dataset.status = connection.status ?? 'unknown';
  const server = connection.server;
  setLabelled('conn-server', 'server', server ? `${server.title ?? server.name} ${server.version ?? ''}`.trim() : '');
  setLabelled('conn-target', 'target', connection.target ?? '');
  setLabelled('conn-era', 'era', connection.era ?? '');
  setLabelled('conn-protocol', 'protocol', connection.protocolVersion ?? '');
  const error = $('conn-error');
  error.textContent = connection.error ?? '';
  error.hidden = !connection.error;
}

/** The "Sign in" link while a server waits for the person to sign in (OAuth). */
function renderSignIn(signIn) {
  const banner = $('sign-in');
  const url = typeof signIn?.url === 'string' ? signIn.url : '';
  // Only the authorization server's own web address is offered as a link.
  const safe = /^https?:\/\//.test(url);
  banner.hidden = !safe;
  if (safe) $('sign-in-link').href = url;
  else $('sign-in-link').removeAttribute('href');
}

/** Fills a header item as "label value", or hides it when there is no value. */
function setLabelled(id, label, value) {
  const item = $(id);
  item.replaceChildren(el('span', { class: 'label', textContent: `${label} ` }), value);
  item.hidden = !value;
}

/** The session manager's downstream servers, in the sidebar and the Session tab. */
function renderServers(servers, status) {
  const list = $('server-list');
  const table = $('server-table');
  if (!Array.isArray(servers)) {
    const note = status === 'connected' ? 'The host talks to one server directly (no session manager).' : 'Not known until connected.';
    list.replaceChildren(el('li', { class: 'muted', textContent: note }));
    table.replaceChildren(el('p', { class: 'muted', textContent: note }));
    return;
  }
  list.replaceChildren(...servers.map((server) => el('li', {
    class: 'server-item', testid: 'server-item', dataset: { server: server.name, state: server.state },
    title: server.lastError ?? server.target ?? '',
  }, stateDot(server.state), el('span', { class: 'server-name', textContent: server.name }), el('span', { class: 'server-state', textContent: server.state }))));
  const head = ['Server', 'State', 'Target', 'Protocol', 'Calls in flight', 'Last error'];
  table.replaceChildren(el('table', { class: 'grid' },
    el('thead', {}, el('tr', {}, head.map((name) => el('th', { textContent: name })))),
    el('tbody', {}, servers.map((server) => el('tr', { dataset: { server: server.name } },
      el('td', { textContent: server.name }),
      el('td', {}, stateDot(server.state), server.state),
      el('td', { class: 'mono', textContent: server.target ?? '' }),
      el('td', { textContent: server.connection ? `${server.connection.protocolVersion ?? '?'}${server.connection.stateless ? ' (stateless)' : ''}` : '' }),
      el('td', { textContent: String(server.callsInFlight ?? 0) }),
      el('td', { class: server.lastError ? 'error-text' : '', textContent: server.lastError ?? '' }))))));
}

function stateDot(state) {
  return el('span', { class: `dot state-${state}`, title: state, 'aria-hidden': 'true' });
}

/** The dot of a downstream server by name, for the tool and prompt groups. */
function serverDot(name) {
  const server = app.state?.servers?.find((candidate) => candidate.name === name);
  return server ? stateDot(server.state) : null;
}

function renderSessionInfo(connection) {
  const server = connection.server ?? {};
  $('server-info').replaceChildren(...facts([
    ['Status', connection.status],
    ['Name', server.name],
    ['Title', server.title],
    ['Version', server.version],
    ['Target', connection.target],
    ['Era', connection.era],
    ['Protocol version', connection.protocolVersion],
    ['Error', connection.error],
    ['Instructions', connection.instructions],
  ]));
  const capabilities = connection.capabilities;
  $('capabilities').replaceChildren(isPlainObject(capabilities)
    ? el('div', {}, capabilityChips(capabilities), renderValue(capabilities, false))
    : el('p', { class: 'muted', textContent: 'Not known until connected.' }));
}

/** <dt>/<dd> pairs for the facts that have a value. */
function facts(pairs) {
  return pairs.filter(([, value]) => value !== undefined && value !== null && value !== '')
    .flatMap(([name, value]) => [el('dt', { textContent: name }), el('dd', { textContent: String(value) })]);
}

/** One chip per capability, with its flags (e.g. "resources: subscribe, listChanged"). */
function capabilityChips(capabilities) {
  return el('ul', { class: 'chips', testid: 'capability-list' }, Object.entries(capabilities).map(([name, value]) => {
    const flags = isPlainObject(value) ? Object.keys(value).filter((flag) => value[flag] === true) : [];
    return el('li', { class: 'chip', dataset: { capability: name }, textContent: flags.length ? `${name}: ${flags.join(', ')}` : name });
  }));
}

function renderModel(model, autoApprove) {
  $('model-label').textContent = model?.label ?? 'unknown';
  $('offline-badge').hidden = !model?.offline;
  $('model-info').replaceChildren(...facts([
    ['Model', model?.label],
    ['Offline assistant', model?.offline ? 'yes: no language model is configured' : 'no'],
    ['Sampling requests', autoApprove ? 'approved automatically (--auto-approve)' : 'you approve each one in a dialog'],
  ]));
}

async function reconnect() {
  $('reconnect').disabled = true;
  try {
    await api('/api/reconnect', {});
    notify('Reconnecting…', 'info');
  } catch (error) {
    notify(`Could not reconnect: ${error.message}`);
  } finally {
    $('reconnect').disabled = false;
  }
}

/** Ping: the round trip, in the header. */
async function ping() {
  const result = $('ping-result');
  $('ping').disabled = true;
  result.className = 'conn-item';
  result.textContent = 'pinging…';
  try {
    const { ms } = await api('/api/ping', {});
    result.textContent = `ping ${Number(ms).toFixed(1)} ms`;
  } catch (error) {
    result.classList.add('error-text');
    result.textContent = `ping failed: ${error.message}`;
  } finally {
    $('ping').disabled = false;
  }
}

/** The Connect form: another server, by URL or command, in an era. */
async function connectTo(event) {
  event.preventDefault();
  const kind = $('connect-kind').value;
  const target = $('connect-target').value.trim();
  const body = { [kind]: target, era: $('connect-era').value };
  const submit = $('connect-submit');
  submit.disabled = true;
  submit.textContent = 'Connecting…';
  $('connect-error').replaceChildren();
  try {
    await api('/api/connect', body);
    // What was shown belonged to the old server.
    app.selectedTool = null;
    app.toolResults.clear();
    app.selectedPrompt = null;
    app.resourceView = null;
    fill('tool-detail', el('p', { class: 'empty', textContent: 'Pick a tool on the left to call it.' }));
    $('connect').open = false;
    notify(`Connected to ${target}.`, 'info');
  } catch (error) {
    $('connect-error').replaceChildren(errorBox(`Could not connect to ${target}: ${error.message}`));
  } finally {
    submit.disabled = false;
    submit.textContent = 'Connect';
  }
}

// ---------------------------------------------------------------------------
// History: the JSON-RPC messages exchanged

/** One message's row: a summary line, opened for its JSON (pretty and raw). */
function historyRow(entry) {
  let pretty = entry.raw;
  if (!entry.truncated) {
    try {
      pretty = JSON.stringify(JSON.parse(entry.raw), null, 2);
    } catch {
      // Shown raw.
    }
  }
  const sent = entry.direction === 'sent';
  return el('li', { class: 'history-entry', testid: 'history-entry', dataset: { seq: entry.seq, direction: entry.direction, kind: entry.kind, method: entry.method ?? '' } },
    el('details', {},
      el('summary', {},
        el('span', { class: 'mono muted', textContent: String(entry.time).slice(11, 23) }),
        el('span', { class: 'dir', title: sent ? 'from this host to the server' : 'from the server to this host', textContent: sent ? '→ sent' : '← received' }),
        el('span', { class: 'kind', textContent: entry.kind }),
        el('strong', { class: 'mono', testid: 'history-method', textContent: entry.method ?? '' }),
        el('span', { class: 'mono muted small', textContent: entry.server })),
      el('h3', { textContent: 'Pretty-printed' }),
      el('pre', { testid: 'history-pretty', textContent: pretty }),
      el('h3', { textContent: entry.truncated ? 'Raw (cut: the message was larger than the history keeps)' : 'Raw' }),
      el('pre', { testid: 'history-raw', textContent: entry.raw })));
}

function renderHistoryCount() {
  $('history-count').textContent = `${$('history-list').children.length} of the last ${app.historyCapacity} kept`;
}

/** A `history` event: the newest message goes on top. */
function onHistory(entry) {
  const list = $('history-list');
  if (list.querySelector(`[data-seq="${entry.seq}"]`)) return;
  list.prepend(historyRow(entry));
  while (list.children.length > app.historyCapacity) list.lastChild.remove();
  renderHistoryCount();
}

async function loadHistory() {
  const { entries, capacity } = await api('/api/history');
  app.historyCapacity = capacity;
  $('history-list').replaceChildren(...entries.slice().reverse().map(historyRow));
  renderHistoryCount();
}

async function clearHistory() {
  await api('/api/history/clear', {});
  $('history-list').replaceChildren();
  renderHistoryCount();
}

// ---------------------------------------------------------------------------
// Lists (tools, resources, prompts)

/** Each list: the capability a server declares for it, its loader, where it shows. */
const LISTS = [
  ['tools', loadTools, ['tool-list']],
  ['resources', loadResources, ['resource-list', 'template-list']],
  ['prompts', loadPrompts, ['prompt-list']],
];

function loadLists() {
  const capabilities = app.state?.connection?.capabilities;
  for (const [capability, load, listIds] of LISTS) {
    // A server answers only the lists it declares; unknown capabilities: try.
    if (!isPlainObject(capabilities) || capabilities[capability]) {
      load(); // each loader shows its own failure, so this never rejects
    } else {
      showListNote(listIds, `The server offers no ${capability}.`);
    }
  }
}

/** A note instead of a list (its first place shows it, the others are emptied). */
function showListNote([first, ...others], note) {
  $(first).replaceChildren(el('p', { class: 'muted', textContent: note }));
  for (const id of others) $(id).replaceChildren();
}

function showListsUnavailable(connection) {
  let why = 'Not connected.';
  if (connection.status === 'connecting') why = 'Connecting…';
  else if (connection.error) why = 'Not connected: the reason is at the top of the page.';
  for (const [, , listIds] of LISTS) showListNote(listIds, why);
}

/** `<server>__<name>`, the session manager's naming, as [server, name]; '' when there is no prefix. */
function splitName(name) {
  const at = name.indexOf('__');
  return at > 0 ? [name.slice(0, at), name.slice(at + 2)] : ['', name];
}

/** Items grouped by server prefix, in the session manager's order of servers. */
function groupByServer(items) {
  const groups = new Map((app.state?.servers ?? []).map((server) => [server.name, []]));
  for (const item of items) {
    const [server] = splitName(item.name);
    if (!groups.has(server)) groups.set(server, []);
    groups.get(server).push(item);
  }
  return [...groups].filter(([, members]) => members.length > 0);
}

/** A group of list items under its server's name and state. */
function serverGroup(kind, server, items, makeItem) {
  const title = server || app.state?.connection?.server?.name || 'server';
  return el('section', { class: 'group', testid: `${kind}-group`, dataset: { server } },
    el('h3', {}, serverDot(server), el('span', { textContent: title }), el('span', { class: 'count', textContent: String(items.length) })),
    el('ul', { class: 'item-list' }, items.map((item) => el('li', {}, makeItem(item)))));
}

/** A clickable entry of a list: a name and a dimmer second line. */
function listButton(testid, data, name, sub, onclick) {
  return el('button', { type: 'button', class: 'item', testid, dataset: data, title: sub ?? '', onclick: guard(onclick) },
    el('span', { class: 'item-name', textContent: name }),
    sub ? el('span', { class: 'item-sub', textContent: sub }) : null);
}

/** Marks the entry of `list` whose data-`key` is `value` as the one shown. */
function markSelected(list, key, value) {
  for (const item of list.querySelectorAll('.item')) item.classList.toggle('selected', item.dataset[key] === value);
}

// ---------------------------------------------------------------------------
// Forms from JSON Schema (tool arguments and elicitation)

/** A schema as an object: JSON Schema also allows `true` (anything) and `false`. */
function asSchema(schema) {
  return isPlainObject(schema) ? schema : {};
}

/** Follows local "$ref"s (`#/$defs/Name`) within the root schema; keywords next to the $ref win. */
function resolveRef(schema, root) {
  let current = asSchema(schema);
  for (let depth = 0; typeof current.$ref === 'string' && depth < 16; depth += 1) {
    const { $ref, ...siblings } = current;
    let target = $ref.startsWith('#') ? root : undefined;
    for (const part of $ref.slice(2).split('/').filter(Boolean)) {
      target = isPlainObject(target) ? target[decodeURIComponent(part).replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
    }
    // An unresolvable reference allows anything: the field becomes JSON.
    current = { ...asSchema(target), ...siblings };
  }
  return current;
}

/**
 * The object schema a form can be made of, or null when the schema is
 * something a flat form cannot express (alternatives, free-form maps...):
 * then the page asks for the whole value as JSON.
 */
function objectSchema(schema) {
  const root = asSchema(schema);
  const object = resolveRef(root, root);
  const isObject = object.type === 'object' || (object.type === undefined && isPlainObject(object.properties));
  if (!isObject) return null;
  if (object.anyOf || object.oneOf || object.allOf || object.not || object.if || object.patternProperties) return null;
  const properties = asSchema(object.properties);
  const openEnded = object.additionalProperties !== undefined && object.additionalProperties !== false;
  if (Object.keys(properties).length === 0 && openEnded) return null;
  return object;
}

/**
 * `Option<T>` arrives as {anyOf: [T, {type: "null"}]} or {type: [T, "null"]}:
 * this is the schema of T. Other unions come back with only their non-null
 * branches (and become a select when all are constants, else JSON).
 */
function withoutNull(schema, root) {
  const branches = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(branches)) {
    const values = branches.map((branch) => resolveRef(branch, root)).filter((branch) => branch.type !== 'null');
    if (values.length === 1) return values[0];
    return { ...schema, anyOf: values, oneOf: undefined };
  }
  if (Array.isArray(schema.type)) {
    const types = schema.type.filter((type) => type !== 'null');
    return { ...schema, type: types.length === 1 ? types[0] : types };
  }
  return schema;
}

/** How a value of `schema` is entered: {kind, ...details}. */
function valueKind(schema, root) {
  const branches = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(branches)) {
    if (branches.length > 0 && branches.every((branch) => isPlainObject(branch) && 'const' in branch)) {
      return { kind: 'enum', options: branches.map((branch) => ({ value: branch.const, label: branch.title ?? asText(branch.const) })) };
    }
    return { kind: 'json' };
  }
  if (Array.isArray(schema.enum)) {
    return { kind: 'enum', options: schema.enum.map((value, i) => ({ value, label: schema.enumNames?.[i] ?? asText(value) })) };
  }
  if ('const' in schema) return { kind: 'enum', options: [{ value: schema.const, label: asText(schema.const) }] };
  switch (schema.type) {
    case 'string':
      // Short-limited strings get one line; long or unlimited text a textarea.
      return { kind: 'string', multiline: !(schema.maxLength <= 200), format: schema.format };
    case 'number':
    case 'integer':
      return { kind: schema.type, min: schema.minimum, max: schema.maximum };
    case 'boolean':
      return { kind: 'boolean' };
    case 'array': {
      const items = valueKind(withoutNull(resolveRef(schema.items, root), root), root);
      if (items.kind === 'enum') return { kind: 'multi', options: items.options };
      return { kind: 'json', type: 'array' };
    }
    default:
      return { kind: 'json', type: schema.type };
  }
}

/** Everything needed to show one property as a form field. */
function describeField(name, propertySchema, root, required) {
  const outer = resolveRef(propertySchema, root);
  const inner = withoutNull(outer, root);
  return {
    name,
    required,
    // The property's own words first: a shared type's ($defs) are more general.
    label: outer.title ?? inner.title ?? name,
    description: outer.description ?? inner.description,
    // `"default": null` (what schemars writes for an Option) means no default.
    default: outer.default ?? inner.default ?? undefined,
    ...valueKind(inner, root),
  };
}

/** A short word for the type, shown next to the label. */
function typeWord(field) {
  const words = { string: 'text', number: 'number', integer: 'integer', boolean: 'yes/no', enum: 'choice', multi: 'choices', json: `JSON${field.type ? ` ${field.type}` : ''}` };
  return words[field.kind];
}

let fieldCount = 0;

/**
 * A form body for an object schema: {node, read()} where read() gives
 * {value, errors}, or null when the schema cannot be shown as a form.
 * Fields get data-testid `<testidPrefix>-<name>`; `shortText` keeps every
 * text field on one line (elicitation asks for short answers).
 */
function buildForm(schema, { testidPrefix = 'arg', shortText = false } = {}) {
  const object = objectSchema(schema);
  if (!object) return null;
  const root = asSchema(schema);
  const required = new Set(Array.isArray(object.required) ? object.required : []);
  // Required fields first (schemas often list properties alphabetically).
  const properties = Object.entries(asSchema(object.properties))
    .sort(([a], [b]) => Number(required.has(b)) - Number(required.has(a)));
  const inputs = properties.map(([name, property]) => {
    const field = describeField(name, property, root, required.has(name));
    if (shortText) field.multiline = false;
    return makeInput(field, testidPrefix);
  });
  const node = el('div', { class: 'fields' }, inputs.map((input) => input.row));
  if (inputs.length === 0) node.append(el('p', { class: 'muted', textContent: 'No arguments.' }));
  const read = () => {
    const value = {};
    const errors = [];
    for (const input of inputs) {
      try {
        const fieldValue = readControl(input.field, input.control);
        if (fieldValue !== undefined) value[input.field.name] = fieldValue;
      } catch (error) {
        errors.push(error.message);
      }
    }
    return { value, errors };
  };
  return { node, read };
}

/** A labelled field with its hint: {field, row, control}. */
function makeInput(field, testidPrefix) {
  fieldCount += 1;
  const id = `field-${fieldCount}`;
  const control = makeControl(field, id, `${testidPrefix}-${field.name}`);
  const label = el('label', { for: id },
    el('span', { class: 'field-name', textContent: field.label }),
    field.required ? el('span', { class: 'required', title: 'required', textContent: '*' }) : null,
    el('span', { class: 'field-type', textContent: typeWord(field) }));
  const hint = field.description ? el('small', { class: 'hint', textContent: field.description }) : null;
  const row = el('div', { class: `field kind-${field.kind}`, dataset: { field: field.name } }, label, control, hint);
  return { field, row, control };
}

/** The input element of a field, filled with its default. */
function makeControl(field, id, testid) {
  const common = { id, name: field.name, testid };
  const hasDefault = field.default !== undefined;
  switch (field.kind) {
    case 'string':
      return field.multiline
        ? el('textarea', { ...common, rows: 3, value: hasDefault ? asText(field.default) : '' })
        : el('input', { ...common, type: inputType(field.format), value: hasDefault ? asText(field.default) : '' });
    case 'number':
    case 'integer':
      return el('input', { ...common, type: 'number', step: field.kind === 'integer' ? '1' : 'any', min: field.min, max: field.max, value: hasDefault ? String(field.default) : '' });
    case 'boolean':
      // A required yes/no is a checkbox; an optional one may also be left unset.
      if (field.required) return el('input', { ...common, type: 'checkbox', checked: field.default === true });
      return el('select', common,
        el('option', { value: '', textContent: '(not set)' }),
        el('option', { value: 'true', textContent: 'true', selected: field.default === true }),
        el('option', { value: 'false', textContent: 'false', selected: field.default === false }));
    case 'enum': {
      const blank = field.required && hasDefault ? null : el('option', { value: '', textContent: field.required ? '— choose —' : '(not set)' });
      return el('select', common, blank, field.options.map((option, i) => el('option', {
        value: String(i), textContent: option.label, selected: hasDefault && sameJson(option.value, field.default),
      })));
    }
    case 'multi': {
      const chosen = Array.isArray(field.default) ? field.default : [];
      return el('select', { ...common, multiple: true, size: Math.min(6, field.options.length) }, field.options.map((option, i) => el('option', {
        value: String(i), textContent: option.label, selected: chosen.some((value) => sameJson(value, option.value)),
      })));
    }
    default:
      return el('textarea', { ...common, class: 'mono', rows: 3, placeholder: field.type === 'array' ? '[ ... ]' : 'JSON', value: hasDefault ? JSON.stringify(field.default, null, 2) : '' });
  }
}

function inputType(format) {
  return { email: 'email', uri: 'url', date: 'date' }[format] ?? 'text';
}

function sameJson(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The value of a field, undefined when left empty; throws a message a person understands. */
function readControl(field, control) {
  const missing = () => {
    if (field.required) throw new Error(`${field.label} is required.`);
    return undefined;
  };
  switch (field.kind) {
    case 'string':
      return control.value === '' ? missing() : control.value;
    case 'number':
    case 'integer': {
      if (control.value.trim() === '') return missing();
      const number = Number(control.value);
      if (!Number.isFinite(number)) throw new Error(`${field.label} must be a number.`);
      if (field.kind === 'integer' && !Number.isInteger(number)) throw new Error(`${field.label} must be a whole number.`);
      return number;
    }
    case 'boolean':
      if (control.type === 'checkbox') return control.checked;
      return control.value === '' ? missing() : control.value === 'true';
    case 'enum':
      return control.value === '' ? missing() : field.options[Number(control.value)].value;
    case 'multi': {
      const chosen = [...control.selectedOptions].map((option) => field.options[Number(option.value)].value);
      return chosen.length > 0 ? chosen : missing();
    }
    default: {
      if (control.value.trim() === '') return missing();
      try {
        return JSON.parse(control.value);
      } catch (error) {
        throw new Error(`${field.label} is not valid JSON (${error.message}).`);
      }
    }
  }
}

/** A JSON textarea for when a schema cannot be a form, with a note saying so. */
function jsonFallback(note, testid) {
  const area = el('textarea', { class: 'mono', rows: 8, testid, value: '{}', 'aria-label': 'Arguments as JSON' });
  const read = () => {
    try {
      const value = JSON.parse(area.value || '{}');
      return isPlainObject(value) ? { value, errors: [] } : { value: null, errors: ['The arguments must be a JSON object.'] };
    } catch (error) {
      return { value: null, errors: [`The arguments are not valid JSON (${error.message}).`] };
    }
  };
  return { node: el('div', { class: 'fields' }, el('p', { class: 'note', testid: 'schema-fallback', textContent: note }), area), read };
}

// ---------------------------------------------------------------------------
// Showing MCP content (tool results, resources, prompt and sampling messages)

/** A content block: text, image, audio, resource link or embedded resource. */
function renderBlock(block) {
  switch (block?.type) {
    case 'text':
      return el('pre', { class: 'text-block', testid: 'text-block', textContent: block.text ?? '' });
    case 'image':
      return mediaBlock('img', block);
    case 'audio':
      return mediaBlock('audio', block);
    case 'resource_link':
      return el('div', { class: 'block' }, 'Resource link: ',
        el('button', { type: 'button', class: 'link', title: block.uri, textContent: block.title ?? block.name ?? block.uri, onclick: guard(() => openResource(block.uri)) }),
        block.description ? el('span', { class: 'muted', textContent: ` — ${block.description}` }) : null);
    case 'resource':
      return resourceContents(block.resource ?? {});
    default:
      // Kinds this page does not know (e.g. tool_use in sampling): shown as JSON.
      return el('pre', { class: 'text-block mono', textContent: JSON.stringify(block, null, 2) });
  }
}

/** `tag` (img or audio) playing base64 data; other media types are offered as a download. */
function mediaBlock(tag, { data, mimeType }) {
  const kind = tag === 'img' ? 'image/' : 'audio/';
  const wellFormed = typeof data === 'string' && /^[a-z]+\/[\w.+-]+$/i.test(mimeType ?? '') && mimeType.startsWith(kind);
  if (!wellFormed) return binaryNote(mimeType, data);
  const src = `data:${mimeType};base64,${data}`;
  const media = tag === 'img' ? el('img', { src, alt: `image (${mimeType})`, testid: 'image-block' }) : el('audio', { src, controls: true });
  return el('div', { class: 'block media' }, media);
}

/** Binary data that is not shown: its size and a download link. */
function binaryNote(mimeType, base64) {
  const data = typeof base64 === 'string' ? base64 : '';
  const bytes = Math.floor((data.length * 3) / 4) - (data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0);
  return el('div', { class: 'block muted' }, `Binary data, ${bytes} bytes${mimeType ? ` (${mimeType})` : ''}. `,
    el('a', { href: `data:application/octet-stream;base64,${data}`, download: 'content', textContent: 'Download' }));
}

/** A resource's contents (from resources/read or an embedded resource block). */
function resourceContents(contents) {
  const head = el('div', { class: 'block-head mono', textContent: `${contents.uri ?? ''}${contents.mimeType ? ` · ${contents.mimeType}` : ''}` });
  let body;
  if (typeof contents.text === 'string') body = el('pre', { class: 'text-block', textContent: contents.text });
  else if (typeof contents.blob === 'string' && (contents.mimeType ?? '').startsWith('image/')) body = mediaBlock('img', { data: contents.blob, mimeType: contents.mimeType });
  else if (typeof contents.blob === 'string') body = binaryNote(contents.mimeType, contents.blob);
  else body = el('p', { class: 'muted', textContent: 'No contents.' });
  return el('div', { class: 'block resource-block' }, head, body);
}

/**
 * Structured data: an array of objects as a table, a flat object as a
 * two-column table, anything else as a collapsible tree (whose parts are
 * shown the same way).
 */
function renderValue(value, open = true) {
  if (value === null || typeof value !== 'object') return el('span', { class: `scalar ${value === null ? 'null' : typeof value}`, textContent: asText(value) });
  if (Array.isArray(value) && value.length > 0 && value.every(isPlainObject)) return rowsTable(value);
  if (isPlainObject(value) && Object.keys(value).length > 0 && Object.values(value).every((v) => v === null || typeof v !== 'object')) return keyValueTable(value);
  const entries = Array.isArray(value) ? value.map((item, i) => [String(i), item]) : Object.entries(value);
  if (entries.length === 0) return el('span', { class: 'scalar', textContent: Array.isArray(value) ? '[]' : '{}' });
  const summary = Array.isArray(value) ? `list of ${entries.length}` : `object with ${entries.length} ${entries.length === 1 ? 'key' : 'keys'}`;
  return el('details', { class: 'tree', open, testid: 'tree' }, el('summary', { textContent: summary }),
    el('ul', {}, entries.map(([key, item]) => el('li', {}, el('span', { class: 'key', textContent: `${key}: ` }), renderValue(item, false)))));
}

/** Rows (objects) as a table with a column per key that any row has. */
function rowsTable(rows) {
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  return el('table', { class: 'grid', testid: 'structured-table' },
    el('thead', {}, el('tr', {}, columns.map((column) => el('th', { textContent: column })))),
    el('tbody', {}, rows.map((row) => el('tr', {}, columns.map((column) => el('td', { textContent: column in row ? asText(row[column]) : '' }))))));
}

function keyValueTable(object) {
  return el('table', { class: 'grid', testid: 'structured-table' },
    el('tbody', {}, Object.entries(object).map(([key, value]) => el('tr', {}, el('th', { textContent: key }), el('td', { textContent: asText(value) })))));
}

/** Whether a content block is just the JSON text of `value` (older clients get both). */
function isJsonTextOf(block, value) {
  if (block?.type !== 'text') return false;
  try {
    return canonicalJson(JSON.parse(block.text)) === canonicalJson(value);
  } catch {
    return false;
  }
}

/** JSON with object keys sorted, so two equal values compare equal. */
function canonicalJson(value) {
  return JSON.stringify(value, (key, item) => (isPlainObject(item) ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : 1))) : item));
}

/** A CallToolResult: structured content, content blocks, isError in red. */
function renderToolResult(result) {
  const isError = result.isError === true;
  const blocks = Array.isArray(result.content) ? result.content : [];
  const structured = result.structuredContent;
  const parts = [el('h3', { textContent: isError ? 'The tool reported an error' : 'Result' })];
  if (structured !== undefined && structured !== null) parts.push(el('div', { class: 'structured', testid: 'structured' }, renderValue(structured)));
  // Text that only repeats the structured content is tucked away.
  const repeats = structured !== undefined && blocks.length === 1 && isJsonTextOf(blocks[0], structured);
  if (repeats) parts.push(el('details', {}, el('summary', { textContent: 'The same result as text' }), blocks.map(renderBlock)));
  else parts.push(...blocks.map(renderBlock));
  if (blocks.length === 0 && structured === undefined) parts.push(el('p', { class: 'muted', textContent: 'The tool returned nothing.' }));
  return el('div', { class: `result${isError ? ' is-error' : ''}`, testid: 'tool-result', dataset: { isError: String(isError) } }, parts);
}

// ---------------------------------------------------------------------------
// Tools

async function loadTools() {
  try {
    const { tools } = await api('/api/tools');
    const before = app.tools.find((tool) => tool.name === app.selectedTool);
    app.tools = Array.isArray(tools) ? tools : [];
    renderToolList();
    // The form shown is rebuilt only when its tool changed, so a refresh of
    // the list does not wipe what the user is typing.
    const after = app.tools.find((tool) => tool.name === app.selectedTool);
    if (after && (!before || canonicalJson(before) !== canonicalJson(after))) renderToolDetail(after);
    if (before && !after) $('tool-detail').prepend(errorBox(`${before.name} is no longer offered by the server.`));
  } catch (error) {
    $('tool-list').replaceChildren(errorBox(`Could not list the tools: ${error.message}`));
  }
}

function renderToolList() {
  const list = $('tool-list');
  if (app.tools.length === 0) {
    list.replaceChildren(el('p', { class: 'muted', textContent: 'No tools.' }));
    return;
  }
  const filter = $('tool-filter').value.trim().toLowerCase();
  const visible = app.tools.filter((tool) => !filter || `${tool.name} ${tool.title ?? ''} ${tool.description ?? ''}`.toLowerCase().includes(filter));
  list.replaceChildren(...groupByServer(visible).map(([server, tools]) => serverGroup('tool', server, tools, (tool) => {
    const [, short] = splitName(tool.name);
    return listButton('tool-item', { tool: tool.name }, tool.title ?? short, tool.description, () => selectTool(tool.name));
  })));
  markSelected(list, 'tool', app.selectedTool);
}

function selectTool(name) {
  const tool = app.tools.find((candidate) => candidate.name === name);
  if (!tool) return;
  app.selectedTool = name;
  markSelected($('tool-list'), 'tool', name);
  renderToolDetail(tool);
}

/** The selected tool: its description, an argument form, the last result. */
function renderToolDetail(tool) {
  const inputs = buildForm(tool.inputSchema)
    ?? jsonFallback("This tool's input schema cannot be shown as a form: type the arguments as a JSON object.", 'arguments-json');
  const formError = el('div', { class: 'error-box', role: 'alert', testid: 'form-error', hidden: true });
  const button = el('button', { type: 'submit', class: 'primary', testid: 'tool-call', textContent: 'Call tool' });
  const form = el('form', { class: 'tool-form', testid: 'tool-form', dataset: { tool: tool.name } }, inputs.node, formError, el('div', { class: 'actions' }, button));
  if (!app.toolResults.has(tool.name)) app.toolResults.set(tool.name, el('div', { class: 'result-area', testid: 'tool-result-area', 'aria-live': 'polite' }));
  const resultArea = app.toolResults.get(tool.name);
  button.disabled = resultArea.dataset.busy === 'true';
  form.addEventListener('submit', guard((event) => {
    event.preventDefault();
    const { value, errors } = inputs.read();
    formError.hidden = errors.length === 0;
    formError.textContent = errors.join(' ');
    if (errors.length === 0) return callTool(tool.name, value, resultArea);
    return undefined;
  }));
  fill('tool-detail',
    el('h2', { textContent: tool.title ?? tool.name }),
    tool.title ? el('p', { class: 'mono muted', textContent: tool.name }) : null,
    tool.description ? el('p', { class: 'description', textContent: tool.description }) : null,
    annotationChips(tool.annotations),
    form,
    el('details', { class: 'schema' }, el('summary', { textContent: 'Input schema' }), el('pre', { class: 'mono text-block', textContent: JSON.stringify(tool.inputSchema, null, 2) })),
    resultArea);
}

/** The tool's behaviour hints (read-only, destructive...) as chips. */
function annotationChips(annotations) {
  if (!isPlainObject(annotations)) return null;
  const hints = [['readOnlyHint', 'read-only'], ['destructiveHint', 'destructive'], ['idempotentHint', 'idempotent'], ['openWorldHint', 'open world']]
    .filter(([key]) => annotations[key] === true).map(([, word]) => word);
  return hints.length ? el('ul', { class: 'chips' }, hints.map((hint) => el('li', { class: 'chip', textContent: hint }))) : null;
}

/**
 * Marks a tool as being called or not: its result area, and its Call button
 * if its form is shown (the user may have looked at another tool meanwhile).
 */
function setCalling(name, area, calling) {
  area.dataset.busy = String(calling);
  const form = $('tool-detail').querySelector('[data-testid="tool-form"]');
  if (form?.dataset.tool === name) form.querySelector('[data-testid="tool-call"]').disabled = calling;
}

/** Calls a tool and shows its result (or why it failed) in `area`. */
async function callTool(name, args, area) {
  const bar = el('progress', { testid: 'call-progress' }); // indeterminate until a progress event tells how far
  const status = el('span', { textContent: `Calling ${name}…` });
  setCalling(name, area, true);
  area.replaceChildren(el('div', { class: 'calling', testid: 'tool-calling' }, status, bar));
  app.callProgress.set(name, { bar, status });
  const started = performance.now();
  try {
    const { result } = await api('/api/tools/call', { name, arguments: args });
    const took = Math.round(performance.now() - started);
    area.replaceChildren(renderToolResult(isPlainObject(result) ? result : {}), el('p', { class: 'muted small', textContent: `${name} answered in ${took} ms.` }));
    const tool = app.tools.find((candidate) => candidate.name === name);
    if (appUriOf(tool) && isPlainObject(result)) await mountApp(tool, args, result, area);
  } catch (error) {
    area.replaceChildren(errorBox(`Calling ${name} failed: ${error.message}`));
  } finally {
    app.callProgress.delete(name);
    setCalling(name, area, false);
  }
}

/** Moves a progress bar: a known total makes it determinate. */
function setProgress(bar, progress, total) {
  if (typeof total === 'number' && total > 0) {
    bar.max = total;
    bar.value = Math.min(progress, total);
  } else {
    bar.removeAttribute('value');
  }
}

// ---------------------------------------------------------------------------
// Resources

async function loadResources() {
  try {
    const { resources, templates } = await api('/api/resources');
    app.resources = Array.isArray(resources) ? resources : [];
    app.templates = Array.isArray(templates) ? templates : [];
    renderResourceList();
    renderTemplateList();
  } catch (error) {
    $('resource-list').replaceChildren(errorBox(`Could not list the resources: ${error.message}`));
    $('template-list').replaceChildren();
  }
}

function renderResourceList() {
  const list = $('resource-list');
  if (app.resources.length === 0) {
    list.replaceChildren(el('p', { class: 'muted', textContent: 'No resources.' }));
    return;
  }
  const subscribed = new Set(app.state?.subscriptions ?? []);
  list.replaceChildren(el('ul', { class: 'item-list' }, app.resources.map((resource) => {
    const button = listButton('resource-item', { uri: resource.uri }, resource.title ?? resource.name ?? resource.uri, resource.uri, () => showResource(resource.uri));
    if (subscribed.has(resource.uri)) button.querySelector('.item-name').append(el('span', { class: 'badge', title: 'subscribed', textContent: 'subscribed' }));
    return el('li', {}, button);
  })));
  markSelected(list, 'uri', app.resourceView?.uri);
}

function renderTemplateList() {
  const list = $('template-list');
  if (app.templates.length === 0) {
    list.replaceChildren(el('p', { class: 'muted', textContent: 'No templates.' }));
    return;
  }
  list.replaceChildren(el('ul', { class: 'item-list' }, app.templates.map((template) => el('li', {},
    listButton('template-item', { template: template.uriTemplate }, template.title ?? template.name ?? template.uriTemplate, template.uriTemplate, () => showTemplate(template))))));
}

/** Subscriptions changed: the marks in the list and the toggle of the shown resource follow. */
function renderSubscriptions() {
  if (app.resources.length > 0) renderResourceList();
  const view = app.resourceView;
  if (view) view.toggle.checked = (app.state?.subscriptions ?? []).includes(view.uri);
}

/** Shows a resource from elsewhere on the page (a resource link). */
function openResource(uri) {
  showTab('resources');
  return showResource(uri);
}

/** Reads a resource into the viewer, with its Subscribe toggle. */
async function showResource(uri) {
  const resource = app.resources.find((candidate) => candidate.uri === uri);
  const toggle = el('input', { type: 'checkbox', testid: 'subscribe-toggle', checked: (app.state?.subscriptions ?? []).includes(uri) });
  toggle.addEventListener('change', guard(() => setSubscribed(uri, toggle)));
  const flash = el('span', { class: 'flash', testid: 'resource-updated', hidden: true, textContent: 'updated' });
  const body = el('div', { class: 'resource-body', testid: 'resource-content' });
  app.resourceView = { uri, body, flash, toggle };
  markSelected($('resource-list'), 'uri', uri);
  fill('resource-detail',
    el('h2', { textContent: resource?.title ?? resource?.name ?? uri }),
    el('p', { class: 'mono muted', testid: 'resource-uri', textContent: uri }),
    resource?.description ? el('p', { class: 'description', textContent: resource.description }) : null,
    el('div', { class: 'toolbar' },
      el('label', { class: 'toggle' }, toggle, ' Subscribe to updates'),
      el('button', { type: 'button', textContent: 'Read again', onclick: guard(() => readShownResource(uri)) }),
      flash),
    body);
  await readShownResource(uri);
}

/** (Re-)reads the resource in the viewer, unless another one is shown by then. */
async function readShownResource(uri) {
  const view = app.resourceView;
  if (view?.uri !== uri) return;
  view.body.replaceChildren(el('p', { class: 'muted', textContent: 'Reading…' }));
  let parts;
  try {
    const { result } = await api('/api/resources/read', { uri });
    const contents = Array.isArray(result?.contents) ? result.contents : [];
    parts = contents.length ? contents.map(resourceContents) : [el('p', { class: 'muted', textContent: 'The resource is empty.' })];
  } catch (error) {
    parts = [errorBox(`Could not read ${uri}: ${error.message}`)];
  }
  if (app.resourceView === view) view.body.replaceChildren(...parts);
}

async function setSubscribed(uri, toggle) {
  const path = toggle.checked ? '/api/resources/subscribe' : '/api/resources/unsubscribe';
  try {
    const { subscriptions } = await api(path, { uri });
    if (app.state && Array.isArray(subscriptions)) app.state.subscriptions = subscriptions;
    renderSubscriptions();
  } catch (error) {
    toggle.checked = !toggle.checked;
    notify(`Could not ${toggle.checked ? 'unsubscribe from' : 'subscribe to'} ${uri}: ${error.message}`);
  }
}

/** A subscribed resource changed: re-read it if it is the one shown. */
async function onResourceUpdated({ uri }) {
  addLog('resourceUpdated', `${uri} changed`);
  const view = app.resourceView;
  if (!view || view.uri !== uri) return;
  await readShownResource(uri);
  // Restart the flash animation even when it is still running from last time.
  view.flash.hidden = false;
  view.flash.classList.remove('flashing');
  void view.flash.offsetWidth;
  view.flash.classList.add('flashing');
}

/** The variables of an RFC 6570 URI template, e.g. notes://{name} -> ['name']. */
function templateVariables(template) {
  const names = [];
  for (const [, expression] of template.matchAll(/\{([^}]*)\}/g)) {
    for (const part of expression.replace(/^[+#./;?&]/, '').split(',')) {
      const name = part.replace(/(\*|:\d+)$/, '');
      if (name && !names.includes(name)) names.push(name);
    }
  }
  return names;
}

/** Operators of RFC 6570 expressions: what comes first, what joins, whether names are repeated. */
const TEMPLATE_OPERATORS = {
  '': ['', ',', false], '+': ['', ',', false], '#': ['#', ',', false], '.': ['.', '.', false],
  '/': ['/', '/', false], ';': [';', ';', true], '?': ['?', '&', true], '&': ['&', '&', true],
};

/** Fills an RFC 6570 template with plain string values (no prefix or explode modifiers). */
function expandTemplate(template, values) {
  return template.replace(/\{([^}]*)\}/g, (whole, expression) => {
    const operator = /^[+#./;?&]/.test(expression) ? expression[0] : '';
    const [first, separator, named] = TEMPLATE_OPERATORS[operator];
    const encode = operator === '+' || operator === '#' ? encodeURI : encodeURIComponent;
    const parts = expression.slice(operator.length).split(',')
      .map((part) => part.replace(/(\*|:\d+)$/, ''))
      .filter((name) => values[name])
      .map((name) => (named ? `${name}=${encode(values[name])}` : encode(values[name])));
    return parts.length ? first + parts.join(separator) : '';
  });
}

/** A template: one field per variable (with completion), the URI it makes, Read. */
function showTemplate(template) {
  const variables = templateVariables(template.uriTemplate);
  const inputs = new Map();
  const preview = el('code', { class: 'mono', testid: 'template-uri' });
  const values = () => Object.fromEntries([...inputs].map(([name, input]) => [name, input.value]));
  const update = () => {
    preview.textContent = expandTemplate(template.uriTemplate, values());
  };
  const rows = variables.map((name) => {
    const input = el('input', { type: 'text', id: `template-${name}`, name, testid: `template-arg-${name}`, oninput: update });
    inputs.set(name, input);
    const problem = el('small', { class: 'error-text', hidden: true });
    const ref = { type: 'ref/resource', uri: template.uriTemplate };
    const others = () => Object.fromEntries(Object.entries(values()).filter(([other, value]) => other !== name && value));
    return el('div', { class: 'field' }, el('label', { for: input.id, textContent: name }), input, attachCompletion(input, ref, name, others, problem), problem);
  });
  const form = el('form', { class: 'tool-form', testid: 'template-form' }, rows,
    el('p', {}, 'URI: ', preview),
    el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'primary', textContent: 'Read' })));
  form.addEventListener('submit', guard((event) => {
    event.preventDefault();
    return showResource(expandTemplate(template.uriTemplate, values()));
  }));
  update();
  fill('resource-detail',
    el('h2', { textContent: template.title ?? template.name ?? template.uriTemplate }),
    el('p', { class: 'mono muted', textContent: template.uriTemplate }),
    template.description ? el('p', { class: 'description', textContent: template.description }) : null,
    form);
}

// ---------------------------------------------------------------------------
// Completion (prompt arguments and template variables)

let completionCount = 0;

/**
 * Offers the server's completions for `input` as a datalist, asking
 * /api/complete a moment after each keystroke. `context()` gives the other
 * arguments already filled in (some completions depend on them); `problem`
 * is where a failed request says why. Returns the datalist to put in the page.
 */
function attachCompletion(input, ref, argumentName, context, problem) {
  completionCount += 1;
  const list = el('datalist', { id: `completion-${completionCount}`, testid: 'completions' });
  input.setAttribute('list', list.id);
  input.setAttribute('autocomplete', 'off');
  let timer;
  let latest = 0;
  const ask = async () => {
    // A server that does not offer completion is not asked on every key.
    if (!app.state?.connection?.capabilities?.completions) return;
    latest += 1;
    const request = latest;
    try {
      const { completion } = await api('/api/complete', { ref, argument: { name: argumentName, value: input.value }, context: { arguments: context() } });
      if (request !== latest) return; // a later keystroke asked again
      const values = Array.isArray(completion?.values) ? completion.values : [];
      list.replaceChildren(...values.map((value) => el('option', { value: asText(value) })));
      problem.hidden = true;
    } catch (error) {
      if (request !== latest) return;
      problem.textContent = `No suggestions: ${error.message}`;
      problem.hidden = false;
    }
  };
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(ask, 200);
  });
  input.addEventListener('focus', () => {
    if (list.children.length === 0) ask();
  });
  return list;
}

// ---------------------------------------------------------------------------
// Prompts

async function loadPrompts() {
  try {
    const { prompts } = await api('/api/prompts');
    app.prompts = Array.isArray(prompts) ? prompts : [];
    renderPromptList();
  } catch (error) {
    $('prompt-list').replaceChildren(errorBox(`Could not list the prompts: ${error.message}`));
  }
}

function renderPromptList() {
  const list = $('prompt-list');
  if (app.prompts.length === 0) {
    list.replaceChildren(el('p', { class: 'muted', textContent: 'No prompts.' }));
    return;
  }
  list.replaceChildren(...groupByServer(app.prompts).map(([server, prompts]) => serverGroup('prompt', server, prompts, (prompt) => {
    const [, short] = splitName(prompt.name);
    return listButton('prompt-item', { prompt: prompt.name }, prompt.title ?? short, prompt.description, () => showPrompt(prompt));
  })));
  markSelected(list, 'prompt', app.selectedPrompt);
}

/** A prompt: a field per argument (with completion), Get, the messages. */
function showPrompt(prompt) {
  app.selectedPrompt = prompt.name;
  markSelected($('prompt-list'), 'prompt', prompt.name);
  const args = Array.isArray(prompt.arguments) ? prompt.arguments : [];
  const inputs = new Map();
  const filled = (except) => Object.fromEntries([...inputs].filter(([name, input]) => name !== except && input.value).map(([name, input]) => [name, input.value]));
  const rows = args.map((arg) => {
    const input = el('input', { type: 'text', id: `prompt-arg-${arg.name}`, name: arg.name, testid: `prompt-arg-${arg.name}` });
    inputs.set(arg.name, input);
    const problem = el('small', { class: 'error-text', hidden: true });
    const completions = attachCompletion(input, { type: 'ref/prompt', name: prompt.name }, arg.name, () => filled(arg.name), problem);
    return el('div', { class: 'field', dataset: { field: arg.name } },
      el('label', { for: input.id }, el('span', { class: 'field-name', textContent: arg.title ?? arg.name }), arg.required ? el('span', { class: 'required', title: 'required', textContent: '*' }) : null),
      input, completions,
      arg.description ? el('small', { class: 'hint', textContent: arg.description }) : null,
      problem);
  });
  const formError = el('div', { class: 'error-box', role: 'alert', hidden: true });
  const output = el('div', { class: 'result-area', testid: 'prompt-result', 'aria-live': 'polite' });
  const form = el('form', { class: 'tool-form', testid: 'prompt-form' },
    rows.length ? rows : el('p', { class: 'muted', textContent: 'No arguments.' }),
    formError,
    el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'primary', testid: 'prompt-get', textContent: 'Get prompt' })));
  form.addEventListener('submit', guard((event) => {
    event.preventDefault();
    const missing = args.filter((arg) => arg.required && !inputs.get(arg.name).value.trim()).map((arg) => arg.name);
    formError.hidden = missing.length === 0;
    formError.textContent = `Required: ${missing.join(', ')}.`;
    if (missing.length === 0) return getPrompt(prompt, filled(null), output);
    return undefined;
  }));
  fill('prompt-detail',
    el('h2', { textContent: prompt.title ?? prompt.name }),
    prompt.title ? el('p', { class: 'mono muted', textContent: prompt.name }) : null,
    prompt.description ? el('p', { class: 'description', textContent: prompt.description }) : null,
    form, output);
}

async function getPrompt(prompt, args, output) {
  output.replaceChildren(el('p', { class: 'muted', textContent: 'Getting the prompt…' }));
  try {
    const { result } = await api('/api/prompts/get', { name: prompt.name, arguments: args });
    const messages = Array.isArray(result?.messages) ? result.messages : [];
    // The result's description is shown only when it says something new.
    const description = result?.description && result.description !== prompt.description ? result.description : null;
    output.replaceChildren(...present([
      description ? el('p', { class: 'description', textContent: description }) : null,
      el('ol', { class: 'messages' }, messages.map(messageItem)),
    ]));
  } catch (error) {
    output.replaceChildren(errorBox(`Could not get ${prompt.name}: ${error.message}`));
  }
}

/** A message of a prompt or a sampling request: its role and its content block(s). */
function messageItem(message) {
  const content = Array.isArray(message?.content) ? message.content : [message?.content];
  return el('li', { class: `message role-${message?.role}`, testid: 'message' },
    el('div', { class: 'role', textContent: message?.role ?? '?' }), content.map(renderBlock));
}

// ---------------------------------------------------------------------------
// Chat

/**
 * The running turn: its steps arrive as `chat` events and are shown as they
 * come; the answer of POST /api/chat then fills in whatever the event stream
 * did not deliver (it may be down). Steps arriving when no turn of this page
 * runs (another tab's turn) are not shown here.
 */
function startTurn() {
  const pending = el('div', { class: 'chat-pending', testid: 'chat-pending' }, el('progress'), ' working…');
  const view = el('div', { class: 'turn', testid: 'chat-turn' }, pending);
  $('chat-log').append(view);
  app.chat = { view, pending, texts: new Set(), results: 0 };
  setChatBusy(true);
  return app.chat;
}

function setChatBusy(busy) {
  $('chat-input').disabled = busy;
  $('chat-send').disabled = busy;
  $('chat-reset').disabled = busy;
}

/** Adds an item to the turn, above its "working" line. */
function addToTurn(turn, node) {
  turn.view.insertBefore(node, turn.pending.isConnected ? turn.pending : null);
  const log = $('chat-log');
  log.scrollTop = log.scrollHeight;
  return node;
}

function chatMessage(role, text) {
  return el('div', { class: `chat-message role-${role}`, testid: 'chat-message', dataset: { role } },
    el('div', { class: 'role', textContent: role === 'user' ? 'you' : 'assistant' }),
    el('div', { class: 'chat-text', textContent: text }));
}

function addTurnText(turn, text) {
  if (!text || turn.texts.has(text)) return;
  turn.texts.add(text);
  addToTurn(turn, chatMessage('assistant', text));
}

/** Arguments as readable JSON, whether they come as JSON text or as a value. */
function prettyArguments(args) {
  if (typeof args !== 'string') return JSON.stringify(args ?? {}, null, 2);
  try {
    return JSON.stringify(JSON.parse(args), null, 2);
  } catch {
    return args;
  }
}

function addToolCall(turn, name, args) {
  return addToTurn(turn, el('div', { class: 'chat-item tool-call', testid: 'chat-tool-call', dataset: { tool: name } },
    el('div', { class: 'call-head' }, 'Calls ', el('code', { textContent: name })),
    el('pre', { class: 'mono text-block', textContent: prettyArguments(args) })));
}

/** The latest call of `name` in the turn still waiting for its result. */
function openCall(turn, name) {
  const calls = [...turn.view.querySelectorAll('.tool-call:not(.done)')].filter((call) => call.dataset.tool === name);
  return calls[calls.length - 1] ?? null;
}

function addToolResult(turn, name, text, isError, args) {
  const call = openCall(turn, name) ?? addToolCall(turn, name, args);
  call.querySelector('progress')?.remove();
  call.classList.add('done');
  call.append(el('div', { class: `tool-output${isError ? ' is-error' : ''}`, testid: 'chat-tool-result', dataset: { isError: String(Boolean(isError)) } },
    el('div', { class: 'call-head', textContent: isError ? 'Error' : 'Result' }),
    el('pre', { class: 'text-block', textContent: text ?? '' })));
  turn.results += 1;
}

function onChatEvent(step) {
  const turn = app.chat;
  if (!turn) return;
  switch (step.kind) {
    case 'text':
      addTurnText(turn, step.text);
      break;
    case 'toolCall':
      addToolCall(turn, step.name, step.arguments);
      break;
    case 'toolResult':
      addToolResult(turn, step.name, step.text, step.isError);
      break;
    case 'rejected':
      addToTurn(turn, el('div', { class: 'chat-item rejected', testid: 'chat-rejected', textContent: `The call of ${step.name} was not made: ${step.reason}` }));
      // The answer lists a rejected call among its tool runs too.
      turn.results += 1;
      break;
    case 'progress': {
      const call = openCall(turn, step.name);
      if (!call) break;
      const bar = call.querySelector('progress') ?? call.appendChild(el('progress'));
      setProgress(bar, step.progress, step.total);
      bar.title = step.message ?? '';
      break;
    }
    default:
      break;
  }
}

/**
 * The turn's answer: the tool runs the event stream missed (its steps come
 * in order, so those are the last ones), then the final text, which only
 * the answer carries.
 */
function finishTurn(turn, answer) {
  const runs = Array.isArray(answer.toolRuns) ? answer.toolRuns : [];
  for (const run of runs.slice(turn.results)) addToolResult(turn, run.name, run.result, run.isError, run.arguments);
  addTurnText(turn, answer.answer);
}

async function sendChat(event) {
  event.preventDefault();
  const input = $('chat-input');
  const message = input.value.trim();
  if (!message || app.chat) return;
  $('chat-log').append(chatMessage('user', message));
  input.value = '';
  const turn = startTurn();
  try {
    finishTurn(turn, await api('/api/chat', { message }));
  } catch (error) {
    addToTurn(turn, el('div', { class: 'chat-item error-box', role: 'alert', testid: 'chat-error', textContent: `The turn failed: ${error.message}` }));
  } finally {
    turn.pending.remove();
    app.chat = null;
    setChatBusy(false);
    input.focus();
  }
}

async function resetChat() {
  try {
    await api('/api/chat/reset', {});
    $('chat-log').replaceChildren(el('p', { class: 'muted', textContent: 'New conversation: the model no longer sees the earlier messages.' }));
  } catch (error) {
    notify(`Could not start a new conversation: ${error.message}`);
  }
}

// ---------------------------------------------------------------------------
// Log of notifications

const LOG_LIMIT = 500;

/** Appends a row to the log: its time, its kind, its text, maybe more. */
function addLog(kind, text, { level, time, extra } = {}) {
  const list = $('log-list');
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 20;
  const when = time ? new Date(time) : new Date();
  const row = el('li', { class: `log-row kind-${kind}${level ? ` level-${level}` : ''}`, testid: 'log-entry', dataset: { kind } },
    el('time', { textContent: Number.isNaN(when.getTime()) ? String(time) : when.toLocaleTimeString() }),
    el('span', { class: 'tag', textContent: level ? `${kind} · ${level}` : kind }),
    el('span', { class: 'log-text', textContent: text }),
    extra);
  list.append(row);
  while (list.children.length > LOG_LIMIT) list.firstChild.remove();
  if (atBottom) list.scrollTop = list.scrollHeight;
  if (currentTab() !== 'log') {
    app.unread += 1;
    renderUnread();
  }
  return row;
}

function renderUnread() {
  const count = $('log-unread');
  count.textContent = String(app.unread);
  count.hidden = app.unread === 0;
}

function onLog({ level, logger, data, time }) {
  addLog('log', `${logger ? `[${logger}] ` : ''}${asText(data)}`, { level, time });
}

/** Progress of a call: one log row per operation, moved along, and the bar of the call. */
function onProgress({ name, progress, total, message }) {
  const key = name ?? '';
  const text = `${name ?? 'operation'}: ${progress}${typeof total === 'number' ? ` of ${total}` : ''}${message ? ` — ${message}` : ''}`;
  let entry = app.progressRows.get(key);
  if (!entry || !entry.row.isConnected) {
    const bar = el('progress', { testid: 'log-progress' });
    entry = { row: addLog('progress', text, { extra: bar }), bar };
    app.progressRows.set(key, entry);
  }
  entry.row.querySelector('.log-text').textContent = text;
  setProgress(entry.bar, progress, total);
  if (typeof total === 'number' && progress >= total) app.progressRows.delete(key);
  const call = app.callProgress.get(name);
  if (call) {
    setProgress(call.bar, progress, total);
    call.status.textContent = `Calling ${name}… ${message ?? ''}`;
  }
}

function onListChanged({ what }) {
  addLog('listChanged', `the ${what} changed: fetched again`);
  const list = LISTS.find(([capability]) => capability === what);
  if (list) list[1]();
}

// ---------------------------------------------------------------------------
// Dialogs: sampling approval and elicitation

/**
 * A modal dialog for a server's request. `buttons` are [label, testid,
 * handler, primary?]. Escape does not close it: the server waits for an
 * answer, so the user picks one of the buttons.
 */
function openDialog(id, kind, title, body, buttons) {
  const problem = el('div', { class: 'error-box', role: 'alert', testid: 'dialog-error', hidden: true });
  const dialog = el('dialog', { class: 'dialog', testid: `${kind}-dialog`, dataset: { id } },
    el('h2', { textContent: title }), body, problem,
    el('div', { class: 'actions' }, buttons.map(([label, testid, handler, primary]) => el('button', {
      type: 'button', class: primary ? 'primary' : '', testid, textContent: label, onclick: guard(handler),
    }))));
  dialog.addEventListener('cancel', (event) => event.preventDefault());
  document.body.append(dialog);
  dialog.showModal();
  app.dialogs.set(id, dialog);
  return dialog;
}

function closeDialog(id) {
  const dialog = app.dialogs.get(id);
  if (!dialog) return;
  app.dialogs.delete(id);
  dialog.close();
  dialog.remove();
}

function showDialogError(dialog, message) {
  const problem = dialog.querySelector('[data-testid="dialog-error"]');
  problem.textContent = message;
  problem.hidden = false;
}

/** Sends the user's answer to a dialog; it stays open (saying why) if that fails. */
async function answerDialog(id, path, body) {
  const dialog = app.dialogs.get(id);
  if (!dialog) return;
  const buttons = dialog.querySelectorAll('.actions button');
  for (const button of buttons) button.disabled = true;
  try {
    await api(path, body);
    closeDialog(id);
  } catch (error) {
    if (error.status === 404) {
      closeDialog(id);
      notify(`That request is no longer waiting: ${error.message}`, 'info');
      return;
    }
    showDialogError(dialog, error.message);
    for (const button of buttons) button.disabled = false;
  }
}

/** A server asks the host's model (sampling): show what it sends, Approve or Decline. */
function openApproval({ id, params }) {
  if (app.dialogs.has(id)) return;
  const request = isPlainObject(params) ? params : {};
  const tools = Array.isArray(request.tools) ? request.tools.map((tool) => tool.name).join(', ') : '';
  const hints = request.modelPreferences?.hints?.map((hint) => hint.name).join(', ');
  const body = el('div', { class: 'dialog-body' },
    el('p', { textContent: 'A server asks to use your model. Read what it would send; nothing goes to the model unless you approve.' }),
    request.systemPrompt ? [el('h3', { textContent: 'System prompt' }), el('pre', { class: 'text-block', testid: 'approval-system-prompt', textContent: request.systemPrompt })] : null,
    el('h3', { textContent: 'Messages' }),
    el('ol', { class: 'messages', testid: 'approval-messages' }, (Array.isArray(request.messages) ? request.messages : []).map(messageItem)),
    el('dl', { class: 'facts' }, facts([['Most tokens', request.maxTokens], ['Model hints', hints], ['Tools offered to the model', tools], ['Temperature', request.temperature]])));
  const path = `/api/approvals/${encodeURIComponent(id)}`;
  openDialog(id, 'approval', 'Sampling request', body, [
    ['Decline', 'approval-decline', () => answerDialog(id, path, { approve: false })],
    ['Approve', 'approval-approve', () => answerDialog(id, path, { approve: true }), true],
  ]);
}

/** A server asks the user for input (elicitation): a form from its schema. */
function openElicitation({ id, params }) {
  if (app.dialogs.has(id)) return;
  const request = isPlainObject(params) ? params : {};
  if (request.mode === 'url') {
    openUrlElicitation(id, request);
    return;
  }
  const inputs = buildForm(request.requestedSchema ?? { type: 'object', properties: {} }, { testidPrefix: 'elicit', shortText: true })
    ?? jsonFallback('The requested answer cannot be shown as a form: type it as a JSON object.', 'elicitation-json');
  const path = `/api/elicitations/${encodeURIComponent(id)}`;
  const accept = () => {
    const { value, errors } = inputs.read();
    if (errors.length > 0) {
      showDialogError(app.dialogs.get(id), errors.join(' '));
      return undefined;
    }
    return answerDialog(id, path, { action: 'accept', content: value });
  };
  const body = el('div', { class: 'dialog-body' },
    el('p', { class: 'description', testid: 'elicitation-message', textContent: request.message ?? 'A server asks for input.' }),
    el('form', { class: 'tool-form', onsubmit: (event) => event.preventDefault() }, inputs.node));
  openDialog(id, 'elicitation', 'A server asks you', body, [
    ['Cancel', 'elicitation-cancel', () => answerDialog(id, path, { action: 'cancel' })],
    ['Decline', 'elicitation-decline', () => answerDialog(id, path, { action: 'decline' })],
    ['Accept', 'elicitation-accept', accept, true],
  ]);
}

/**
 * URL mode (2025-11-25): the server asks the person to visit a page (to
 * sign in, say). Only http(s) links are offered, opened in a new tab with no
 * access back to this page; Accept says the person will go there.
 */
function openUrlElicitation(id, request) {
  const path = `/api/elicitations/${encodeURIComponent(id)}`;
  const url = typeof request.url === 'string' ? request.url : '';
  const safe = /^https?:\/\//i.test(url);
  const body = el('div', { class: 'dialog-body' },
    el('p', { class: 'description', testid: 'elicitation-message', textContent: request.message ?? 'A server asks you to open a page.' }),
    safe
      ? el('p', {}, el('a', { href: url, target: '_blank', rel: 'noopener noreferrer', testid: 'elicitation-url', textContent: url }))
      : el('p', { class: 'error', textContent: `The server gave a link that is not http(s), which is not opened: ${url}` }));
  openDialog(id, 'elicitation', 'A server asks you to open a page', body, [
    ['Cancel', 'elicitation-cancel', () => answerDialog(id, path, { action: 'cancel' })],
    ['Decline', 'elicitation-decline', () => answerDialog(id, path, { action: 'decline' })],
    ...(safe ? [['Open and accept', 'elicitation-accept', () => {
      window.open(url, '_blank', 'noopener,noreferrer');
      return answerDialog(id, path, { action: 'accept' });
    }, true]] : []),
  ]);
}

function onDialogClosed({ id, outcome }) {
  addLog('dialog', `request ${id}: ${outcome}`);
  if (app.dialogs.has(id) && outcome === 'timed out') notify('A request from a server timed out before it was answered.', 'info');
  closeDialog(id);
}

/** Opens the dialogs already waiting, and closes those no longer waiting. */
async function syncPending() {
  try {
    const { approvals, elicitations } = await api('/api/pending');
    const waiting = [...(approvals ?? []), ...(elicitations ?? [])].map((request) => request.id);
    for (const id of [...app.dialogs.keys()]) if (!waiting.includes(id)) closeDialog(id);
    for (const request of approvals ?? []) openApproval(request);
    for (const request of elicitations ?? []) openElicitation(request);
  } catch (error) {
    notify(`Could not check for waiting requests: ${error.message}`);
  }
}

// ---------------------------------------------------------------------------
// Roots

function renderRoots(roots) {
  const list = $('root-list');
  if (roots.length === 0) {
    list.replaceChildren(el('li', { class: 'muted', textContent: 'No roots.' }));
    return;
  }
  list.replaceChildren(...roots.map((root) => el('li', { class: 'root-item', testid: 'root-item', dataset: { uri: root.uri } },
    el('span', { class: 'item-name', textContent: root.name ?? root.uri }),
    el('span', { class: 'mono muted', textContent: root.uri }),
    el('button', { type: 'button', testid: 'root-remove', textContent: 'Remove', onclick: guard(() => changeRoots({ remove: root.uri })) }))));
}

async function changeRoots(change) {
  try {
    const { roots } = await api('/api/roots', change);
    if (app.state) app.state.roots = roots;
    renderRoots(Array.isArray(roots) ? roots : []);
    return true;
  } catch (error) {
    notify(`Could not change the roots: ${error.message}`);
    return false;
  }
}

async function addRoot(event) {
  event.preventDefault();
  const input = $('root-input');
  const path = input.value.trim();
  if (path && await changeRoots({ add: path })) input.value = '';
}

// ---------------------------------------------------------------------------
// Live events

const EVENT_HANDLERS = {
  state: renderState,
  log: onLog,
  progress: onProgress,
  listChanged: onListChanged,
  resourceUpdated: onResourceUpdated,
  chat: onChatEvent,
  approval: openApproval,
  elicitation: openElicitation,
  dialogClosed: onDialogClosed,
  history: onHistory,
};

function setLive(live) {
  const status = $('live-status');
  status.dataset.live = live ? 'ok' : 'lost';
  status.textContent = live ? 'live' : 'live updates lost, retrying…';
  // Without live updates the connection shown may be out of date.
  $('conn-status').classList.toggle('stale', !live);
  $('conn-status').title = live ? '' : 'last known state: live updates are lost';
}

/**
 * Follows /api/events. EventSource reconnects by itself after a drop; only
 * when it gives up (the answer was not an event stream) does this open a
 * new one. After a gap, lists and dialogs are fetched again, as events may
 * have been missed.
 */
function connectEvents() {
  const source = new EventSource('/api/events');
  source.addEventListener('open', () => {
    setLive(true);
    if (app.liveLost) {
      app.liveLost = false;
      if (app.state?.connection?.status === 'connected') loadLists();
      syncPending();
      loadHistory().catch((error) => notify(`Could not load the history: ${error.message}`));
    }
  });
  source.addEventListener('error', () => {
    app.liveLost = true;
    setLive(false);
    if (source.readyState === EventSource.CLOSED) setTimeout(connectEvents, 3000);
  });
  for (const [name, handler] of Object.entries(EVENT_HANDLERS)) {
    source.addEventListener(name, guard((event) => handler(JSON.parse(event.data))));
  }
}

// ---------------------------------------------------------------------------
// Start

function wireControls() {
  for (const button of document.querySelectorAll('[data-tab]')) {
    button.addEventListener('click', () => showTab(button.dataset.tab));
  }
  $('reconnect').addEventListener('click', guard(reconnect));
  $('ping').addEventListener('click', guard(ping));
  $('connect-form').addEventListener('submit', guard(connectTo));
  $('connect-kind').addEventListener('change', () => {
    $('connect-target').placeholder = $('connect-kind').value === 'url' ? 'http://127.0.0.1:5000/mcp' : 'tools_server --stdio';
  });
  $('history-clear').addEventListener('click', guard(clearHistory));
  $('tool-filter').addEventListener('input', renderToolList);
  $('chat-form').addEventListener('submit', guard(sendChat));
  $('chat-input').addEventListener('keydown', (event) => {
    // Enter sends; Shift+Enter makes a new line.
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $('chat-form').requestSubmit();
    }
  });
  $('chat-reset').addEventListener('click', guard(resetChat));
  $('log-clear').addEventListener('click', () => {
    $('log-list').replaceChildren();
    app.progressRows.clear();
  });
  $('root-form').addEventListener('submit', guard(addRoot));
}

async function start() {
  // A last resort: no error stays silent, even one this code did not expect.
  window.addEventListener('unhandledrejection', (event) => notify(String(event.reason?.message ?? event.reason)));
  window.addEventListener('error', (event) => notify(event.message));
  wireControls();
  const wanted = location.hash.slice(1);
  showTab(TABS.includes(wanted) ? wanted : 'tools');
  connectEvents();
  loadHistory().catch((error) => notify(`Could not load the history: ${error.message}`));
  try {
    const state = await api('/api/state');
    // The event stream sends the state too; whichever comes first is used.
    if (!app.state) renderState(state);
  } catch (error) {
    notify(`Could not read the host's state: ${error.message}`);
  }
  await syncPending();
}

start();

// ---------------------------------------------------------------------------
// MCP Apps (the io.modelcontextprotocol/ui extension)
//
// A tool whose _meta.ui.resourceUri names a ui:// resource shows its result
// in that resource's HTML page: in an iframe with sandbox="allow-scripts"
// and no allow-same-origin, so the page has an opaque origin and cannot
// reach this page's DOM, cookies or API; a Content-Security-Policy built
// from the resource's _meta.ui.csp (the spec's restrictive default when it
// declares nothing) is put at the top of the page. The page talks to us
// only with JSON-RPC 2.0 over postMessage: the ui/initialize handshake,
// then the tool's input and result are sent to it; it may call tools of its
// own server, each after the user allows it in a dialog. Malformed or
// unrequested messages are ignored and written to the Log pane.

const APP_MIME_TYPE = 'text/html;profile=mcp-app';
const APP_PROTOCOL_VERSION = '2026-01-26';
const APP_MAX_BYTES = 1024 * 1024; // as the SDK's apps::MAX_HTML_BYTES
const APP_MAX_HEIGHT = 2000;
const bridges = new Set();

/** The ui:// resource a tool's results are shown in, if any. */
function appUriOf(tool) {
  const uri = tool?._meta?.ui?.resourceUri;
  return typeof uri === 'string' && uri.startsWith('ui://') ? uri : null;
}

/** scheme://host[:port], nothing that could end or widen a CSP directive. */
function isCspOrigin(value) {
  return typeof value === 'string' && /^[a-z][a-z0-9+.-]*:\/\/[A-Za-z0-9.*:[\]-]+$/i.test(value);
}

/** The frame's Content-Security-Policy: the spec's construction from _meta.ui.csp. */
function appCsp(csp) {
  const origins = (key) => (Array.isArray(csp?.[key]) ? csp[key].filter(isCspOrigin) : []);
  const resources = origins('resourceDomains').join(' ');
  const connect = origins('connectDomains').join(' ');
  const frames = origins('frameDomains').join(' ');
  const bases = origins('baseUriDomains').join(' ');
  return [
    "default-src 'none'",
    `script-src 'self' 'unsafe-inline' ${resources}`,
    `style-src 'self' 'unsafe-inline' ${resources}`,
    `img-src 'self' data: ${resources}`,
    `font-src 'self' ${resources}`,
    `media-src 'self' data: ${resources}`,
    `connect-src ${connect || "'none'"}`,
    `frame-src ${frames || "'none'"}`,
    "object-src 'none'",
    `base-uri ${bases || "'self'"}`,
    "form-action 'none'",
  ].map((directive) => directive.trim()).join('; ');
}

/** The page with its CSP first (after the doctype), before anything it could load. */
function withCsp(html, policy) {
  const meta = `<meta http-equiv="Content-Security-Policy" content="${policy.replace(/"/g, '&quot;')}">`;
  const doctype = /^\s*<!doctype[^>]*>/i.exec(html);
  return doctype ? doctype[0] + meta + html.slice(doctype[0].length) : meta + html;
}

/** The iframe `allow` list for the permissions the app asked for. */
function appAllow(permissions) {
  if (!isPlainObject(permissions)) return '';
  return [['camera', 'camera'], ['microphone', 'microphone'], ['geolocation', 'geolocation'], ['clipboardWrite', 'clipboard-write']]
    .filter(([key]) => isPlainObject(permissions[key])).map(([, feature]) => feature).join('; ');
}

function appLog(bridge, text, level = 'warning') {
  const line = `MCP App ${bridge.uri}: ${text}`;
  console.warn(line);
  addLog('app', line, { level });
}

/** Reads the app's page; null (and a note in `area`) when it is not one. */
async function readApp(uri, area) {
  try {
    const { result } = await api('/api/resources/read', { uri });
    const contents = Array.isArray(result?.contents) ? result.contents.find((c) => c?.uri === uri) ?? result.contents[0] : null;
    if (!isPlainObject(contents) || contents.mimeType !== APP_MIME_TYPE) {
      throw new Error(`the resource is not ${APP_MIME_TYPE}`);
    }
    let html = contents.text;
    if (typeof html !== 'string' && typeof contents.blob === 'string') html = new TextDecoder().decode(Uint8Array.from(atob(contents.blob), (c) => c.charCodeAt(0)));
    if (typeof html !== 'string') throw new Error('the resource has no HTML');
    if (new TextEncoder().encode(html).length > APP_MAX_BYTES) throw new Error(`the page is over ${APP_MAX_BYTES} bytes`);
    return { html, ui: isPlainObject(contents._meta?.ui) ? contents._meta.ui : {} };
  } catch (error) {
    area.append(errorBox(`The tool's app (${uri}) cannot be shown: ${error.message}`));
    return null;
  }
}

/** Shows the app of `tool` for one call (its arguments and result) in `area`. */
async function mountApp(tool, args, result, area) {
  const uri = appUriOf(tool);
  if (!uri) return;
  const page = await readApp(uri, area);
  if (!page) return;
  const frame = document.createElement('iframe');
  frame.setAttribute('sandbox', 'allow-scripts');
  const allow = appAllow(page.ui.permissions);
  if (allow) frame.setAttribute('allow', allow);
  frame.className = `app-frame${page.ui.prefersBorder === false ? ' borderless' : ''}`;
  frame.title = `App of ${tool.title ?? tool.name}`;
  frame.dataset.testid = 'app-frame';
  const policy = appCsp(page.ui.csp);
  console.info(`MCP App ${uri}: Content-Security-Policy ${policy}`); // the spec's audit trail
  frame.srcdoc = withCsp(page.html, policy);
  const [server] = splitName(tool.name);
  const bridge = { frame, uri, tool, args, result, server, answered: false, initialized: false };
  bridges.add(bridge);
  area.append(frame);
}

/** A message to the app; the target origin is '*' because a sandboxed page's origin is opaque. */
function toApp(bridge, message) {
  bridge.frame.contentWindow?.postMessage({ jsonrpc: '2.0', ...message }, '*');
}

function appError(bridge, id, code, message) {
  toApp(bridge, { id, error: { code, message } });
}

window.addEventListener('message', (event) => {
  let bridge = null;
  for (const candidate of bridges) {
    if (!candidate.frame.isConnected) bridges.delete(candidate);
    else if (candidate.frame.contentWindow === event.source) bridge = candidate;
  }
  if (!bridge) return; // not from an app we show
  onAppMessage(bridge, event.data).catch((error) => appLog(bridge, `failed: ${error.message}`, 'error'));
});

function isRequestId(id) {
  return (typeof id === 'string' && id.length <= 200) || Number.isSafeInteger(id);
}

async function onAppMessage(bridge, message) {
  if (!isPlainObject(message) || message.jsonrpc !== '2.0') {
    appLog(bridge, `ignored a malformed message: ${String(JSON.stringify(message)).slice(0, 200)}`);
    return;
  }
  const { id, method, params } = message;
  if (typeof method !== 'string') {
    // We send the app no requests, so no answer can be one we asked for.
    appLog(bridge, `ignored an answer that was never asked for (id ${String(JSON.stringify(id)).slice(0, 50)})`);
    return;
  }
  if (params !== undefined && !isPlainObject(params)) {
    appLog(bridge, `ignored ${method.slice(0, 100)}: its params are not an object`);
    if (id !== undefined && isRequestId(id)) appError(bridge, id, -32602, 'params must be an object');
    return;
  }
  if (id === undefined) {
    onAppNotification(bridge, method, params ?? {});
    return;
  }
  if (!isRequestId(id)) {
    appLog(bridge, `ignored ${method.slice(0, 100)}: its id is neither a string nor an integer`);
    return;
  }
  if (method === 'ui/initialize') {
    bridge.answered = true;
    toApp(bridge, {
      id,
      result: {
        protocolVersion: APP_PROTOCOL_VERSION,
        hostInfo: { name: 'mcp-host-web', version: '1' },
        hostCapabilities: { serverTools: {}, logging: {} },
        hostContext: {
          toolInfo: { tool: bridge.tool },
          theme: 'light',
          displayMode: 'inline',
          availableDisplayModes: ['inline'],
          platform: 'web',
          locale: navigator.language,
        },
      },
    });
    return;
  }
  if (!bridge.initialized) {
    appLog(bridge, `ignored ${method.slice(0, 100)} before the ui/initialize handshake finished`);
    appError(bridge, id, -32600, 'finish ui/initialize first');
    return;
  }
  if (method === 'ping') toApp(bridge, { id, result: {} });
  else if (method === 'ui/request-display-mode') toApp(bridge, { id, result: { mode: 'inline' } });
  else if (method === 'tools/call') await appToolCall(bridge, id, params ?? {});
  else {
    appLog(bridge, `asked for ${method.slice(0, 100)}, which this host does not offer apps`, 'info');
    appError(bridge, id, -32601, `${method.slice(0, 100)} is not offered to apps by this host`);
  }
}

function onAppNotification(bridge, method, params) {
  if (method === 'ui/notifications/initialized' && bridge.answered && !bridge.initialized) {
    bridge.initialized = true;
    toApp(bridge, { method: 'ui/notifications/tool-input', params: { arguments: bridge.args } });
    toApp(bridge, { method: 'ui/notifications/tool-result', params: bridge.result });
  } else if (method === 'ui/notifications/size-changed' && bridge.initialized) {
    const height = Number(params.height);
    if (Number.isFinite(height) && height > 0) bridge.frame.style.height = `${Math.min(Math.ceil(height), APP_MAX_HEIGHT)}px`;
  } else if (method === 'notifications/message' && bridge.initialized) {
    appLog(bridge, `says: ${String(JSON.stringify(params.data)).slice(0, 500)}`, typeof params.level === 'string' ? params.level : 'info');
  } else {
    appLog(bridge, `ignored the notification ${method.slice(0, 100)}, which was not expected now`);
  }
}

/**
 * The app calls a tool: only one of its own server's that lets apps call
 * it (_meta.ui.visibility), and only after the user allows it.
 */
async function appToolCall(bridge, id, params) {
  const name = params.name;
  const args = params.arguments ?? {};
  if (typeof name !== 'string' || name.includes('__') || !isPlainObject(args)) {
    appLog(bridge, 'ignored a tools/call without a plain tool name and object arguments');
    appError(bridge, id, -32602, 'tools/call needs a tool name of this server and object arguments');
    return;
  }
  const fullName = bridge.server ? `${bridge.server}__${name}` : name;
  const tool = app.tools.find((candidate) => candidate.name === fullName);
  const visibility = tool?._meta?.ui?.visibility;
  if (!tool || (Array.isArray(visibility) && !visibility.includes('app'))) {
    appLog(bridge, `asked to call ${fullName.slice(0, 100)}, which is not a tool of its server open to apps`);
    appError(bridge, id, -32602, `no tool ${name.slice(0, 100)} that this app may call`);
    return;
  }
  const dialogId = `app-call-${Math.random().toString(36).slice(2)}`;
  const allowed = await new Promise((resolve) => {
    const answer = (yes) => () => { closeDialog(dialogId); resolve(yes); };
    openDialog(dialogId, 'app-call', `The app of ${bridge.tool.title ?? bridge.tool.name} wants to call ${fullName}`,
      el('div', {},
        el('p', { textContent: 'With these arguments:' }),
        el('pre', { class: 'mono text-block', testid: 'app-call-arguments', textContent: JSON.stringify(args, null, 2) })),
      [['Deny', 'app-call-deny', answer(false)], ['Allow', 'app-call-allow', answer(true), true]]);
  });
  if (!allowed) {
    appLog(bridge, `the user denied its call of ${fullName}`, 'info');
    appError(bridge, id, -32000, 'The user denied the tool call');
    return;
  }
  try {
    const { result } = await api('/api/tools/call', { name: fullName, arguments: args });
    toApp(bridge, { id, result });
  } catch (error) {
    appError(bridge, id, -32000, `The tool call failed: ${error.message}`);
  }
}
