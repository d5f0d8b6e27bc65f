// The preview host: loads one plugin the way the IDE does in dev mode (SPEC §6b) and keeps it live:
//   1. the Refresh runtime from the plugin's Vite server installs the React DevTools hook (before ReactDOM
//      first runs here, so Fast Refresh reaches the renderer; the IDE's own ReactDOM runs earlier);
//   2. every shared module is put on window.__OMNIVIEW_SHARED__ in one awaited step, as the IDE does: React
//      (bundled, development build), the npm-published packages (content-hashed chunks, cached for good after
//      the first view), and stand-ins for the unpublished @omniviewdev packages;
//   3. /src/entry.ts is imported with the IDE's 30 s timeout, its exports checked with the IDE's rules and
//      words, and its routes registered as the IDE registers them: `_routes` (or `Routes`), nested under
//      /_plugin/<id>/ in a router, inside a React Query client, a MUI theme, an error boundary and
//      PluginContextProvider {pluginId, meta, settings} keyed `<id>-<loadedAt>`.
// The event stream drives the rest: a new plugin pid (a Go reload) gives a new key (only the plugin's subtree
// re-mounts), a failed Go build or a type error shows an overlay with the errors until they are fixed, and a Vite
// server on another port reloads the page (the Refresh runtime belongs to one server).
import * as React from 'react';
import { EAGER, LAZY, STAND_INS } from 'plugindev:shared';
import { PluginContextProvider, setPreviewContext, standInModules } from './standins.js';
import {
  devImportFailure, loadFailure, nestedRoutes, noRouteReason, pluginBase, registeredRoutes, validatePluginExports,
  withImportTimeout,
} from './ide.js';

const h = React.createElement;
const trace = { steps: [], hookBeforeReactDom: null, failed: [], ms: {} };
window.__previewTrace = trace;

function mark(step) {
  trace.steps.push(step);
  trace.ms[step] = Math.round(performance.now());
}

async function json(url) {
  const response = await fetch(url, { credentials: 'same-origin' });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ?? `${url}: HTTP ${response.status}`);
  return body;
}

async function injectRefreshHook(viteURL) {
  const refresh = await import(/* @vite-ignore */ `${viteURL}/@react-refresh`);
  (refresh.default ?? refresh).injectIntoGlobalHook(window);
  window.$RefreshReg$ = () => {};
  window.$RefreshSig$ = () => (type) => type;
  window.__vite_plugin_react_preamble_installed__ = true;
  mark('injectIntoGlobalHook');
}

/** Every shared module on window.__OMNIVIEW_SHARED__, loaded in parallel; says once which did not load. */
async function fillShared() {
  trace.hookBeforeReactDom = typeof window.__REACT_DEVTOOLS_GLOBAL_HOOK__ === 'object';
  const shared = (window.__OMNIVIEW_SHARED__ ??= {});
  Object.assign(shared, EAGER, standInModules(STAND_INS));
  const names = Object.keys(LAZY).filter((name) => name !== 'react-dom/client');
  // React's development build records an owner stack (an Error and a console task) for each of the first 10,000
  // elements created after a render; the ~10,700 Material icons made at module level took 2 s of it on their own,
  // for elements that have no owner. Counting as if the limit were reached while the shared modules evaluate skips
  // that; the count is put back before the plugin runs, so its own elements keep their stacks.
  const internals = React.__CLIENT_INTERNALS_DO_NOT_USE_OR_WARN_USERS_THEY_CANNOT_UPGRADE;
  const counted = internals?.recentlyCreatedOwnerStacks;
  if (typeof counted === 'number') internals.recentlyCreatedOwnerStacks = Infinity;
  const results = await Promise.allSettled(names.map((name) => LAZY[name]())).finally(() => {
    if (typeof counted === 'number') internals.recentlyCreatedOwnerStacks = counted;
  });
  results.forEach((result, i) => {
    if (result.status === 'fulfilled') shared[names[i]] = result.value;
    else trace.failed.push(`${names[i]}: ${result.reason}`);
  });
  if (trace.failed.length) console.warn('[plugindev preview] shared modules that did not load:', trace.failed);
  mark('shared filled');
  return shared;
}

class ErrorBoundary extends React.Component {
  constructor(props) {
    super(props);
    this.state = { error: null };
  }

  static getDerivedStateFromError(error) {
    return { error };
  }

  render() {
    if (!this.state.error) return this.props.children;
    return h('pre', { className: 'plugin-crash', 'data-testid': 'plugin-crash' },
      `The plugin's UI threw: ${this.state.error.stack ?? this.state.error}`);
  }
}

// what found an error (its `source`; one from the state's lastError has none: the Go build's)
const sourceOf = (error) => error.source ?? 'go';
const OVERLAY_TITLES = {
  go: 'Go build failed: the plugin keeps its last good backend',
  tsc: 'Type errors (tsc): the UI runs anyway, Vite does not check types',
};

function Overlay({ errors }) {
  const sources = [...new Set(errors.map(sourceOf))];
  return h('div', { className: 'build-overlay', 'data-testid': 'build-overlay', role: 'alert' },
    sources.map((source) => h('section', { key: source, 'data-source': source },
      h('h2', null, OVERLAY_TITLES[source] ?? source),
      h('ul', null, errors.filter((e) => sourceOf(e) === source).map((e, i) => h('li', { key: i },
        h('code', null, e.file ? `${e.file}:${e.line}:${e.column}` : ''), ' ', h('span', null, e.message)))))),
    h('p', null, 'Fix the errors and save: this goes away once they are fixed.'));
}

/** What the page shows instead of a plugin the IDE would not load: the IDE's own line, word for word. */
function showRefusal(pluginId, error) {
  const status = document.getElementById('status') ?? document.body.appendChild(document.createElement('p'));
  status.remove();
  const box = document.createElement('div');
  box.className = 'ide-refusal';
  box.dataset.testid = 'ide-refusal';
  box.setAttribute('role', 'alert');
  const title = document.createElement('h2');
  title.textContent = 'The IDE would not load this plugin';
  const line = document.createElement('pre');
  line.textContent = loadFailure(pluginId, error);
  const hint = document.createElement('p');
  hint.textContent = 'Fix it and save: the page loads the plugin again.';
  box.append(title, line, hint);
  document.getElementById('root').replaceChildren(box);
  window.__preview.refused = line.textContent;
}

/** Where a plugin's own navigate('/x') lands: outside /_plugin/<id>/, which in the IDE is the IDE's route. */
function OutsidePlugin({ base }) {
  const { useLocation, useNavigate } = window.__OMNIVIEW_SHARED__['react-router-dom'];
  const location = useLocation();
  const navigate = useNavigate();
  return h('div', { className: 'preview-note-page', 'data-testid': 'outside-plugin' },
    h('p', null, `The plugin navigated to ${location.pathname}, outside its routes under ${base}/: in the IDE that `
      + `leaves the plugin. Navigate relative to the current page, or to ${base}/… .`),
    h('button', { type: 'button', onClick: () => navigate(`${base}/`) }, `back to ${base}/`));
}

/** The IDE's catch-all inside a plugin's routes. */
function NotFound() {
  const { useLocation } = window.__OMNIVIEW_SHARED__['react-router-dom'];
  return h('div', { className: 'preview-note-page', 'data-testid': 'plugin-not-found' },
    h('h3', null, 'Page not found'),
    h('p', null, "The route you navigated to doesn't exist within this plugin."),
    h('code', null, useLocation().pathname));
}

/** The plugin's routes in a router of their own, made once per mount (a Go reload re-mounts at the same path). */
function PluginRouter({ pluginId, routes, path, onPath }) {
  const { RouterProvider, createMemoryRouter, Outlet } = window.__OMNIVIEW_SHARED__['react-router-dom'];
  const router = React.useMemo(() => {
    const base = pluginBase(pluginId);
    const frame = () => h(PluginContextProvider, { pluginId }, h(Outlet));
    return createMemoryRouter([
      { path: base, Component: frame, children: [...nestedRoutes(routes), { path: '*', Component: NotFound }] },
      { path: '*', element: h(OutsidePlugin, { base }) },
    ], { initialEntries: [path] });
  }, [pluginId, routes]);
  React.useEffect(() => router.subscribe((next) => onPath(next.location.pathname)), [router, onPath]);
  return h(RouterProvider, { router });
}

/** The app's providers around a plugin, as in the IDE: a React Query client and the MUI theme. */
function HostProviders({ children }) {
  const shared = window.__OMNIVIEW_SHARED__;
  const { QueryClient, QueryClientProvider } = shared['@tanstack/react-query'];
  const { ThemeProvider, createTheme } = shared['@mui/material/styles'];
  const [client] = React.useState(() => new QueryClient());
  const [theme] = React.useState(() => createTheme({ palette: { mode: 'dark' } }));
  return h(QueryClientProvider, { client }, h(ThemeProvider, { theme }, children));
}

function Preview({ pluginId, routes, reason, notes, host }) {
  const [view, setView] = React.useState(host.view);
  const [path, setPath] = React.useState(`${pluginBase(pluginId)}/`);
  React.useEffect(() => host.listen(setView), [host]);
  const key = `${pluginId}-${view.loadedAt}`;
  return h(React.Fragment, null,
    h('header', { className: 'preview-bar' },
      h('b', null, pluginId), ` · pid ${view.pid || '–'} · mounted ${view.mounts}× · `,
      h('code', { 'data-testid': 'preview-path' }, path)),
    h('ul', { className: 'preview-notes', 'data-testid': 'preview-notes' },
      [reason, ...notes].filter(Boolean).map((note) => h('li', { key: note }, note))),
    h('main', { 'data-testid': 'preview-mount', 'data-mount': view.mounts, 'data-key': key },
      h(HostProviders, null,
        h(ErrorBoundary, { key },
          h(PluginRouter, { pluginId, routes, path, onPath: setPath })))),
    view.errors ? h(Overlay, { errors: view.errors }) : null);
}

/** What the page shows besides the plugin, moved by the event stream. */
class HostView {
  constructor(state, errors) {
    this.view = { pid: state.pid, loadedAt: Date.now(), mounts: 1, errors: initialErrors(state, errors) };
    this.viteURL = state.viteURL;
    this.listeners = new Set();
  }

  listen(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  set(changes) {
    this.view = { ...this.view, ...changes };
    window.__preview.view = this.view;
    this.listeners.forEach((listener) => listener(this.view));
  }

  status(state) {
    if (state.viteURL && state.viteURL !== this.viteURL) {
      window.location.reload(); // a Vite server on another port: its Refresh runtime is another one
      return;
    }
    if (state.pid && state.pid !== this.view.pid) {
      this.set({ pid: state.pid, loadedAt: Date.now(), mounts: this.view.mounts + 1 });
    }
    if (this.view.errors && state.goStatus === 'ready' && !state.lastError) { // a good Go build
      this.showErrors(this.view.errors.filter((e) => sourceOf(e) !== 'go'));
    }
  }

  /** The plugin's current errors, of every source, as its error event says (none: all fixed). */
  showErrors(errors) {
    this.set({ errors: errors?.length ? errors : null });
  }
}

/** The plugin's errors when the page opened; a failed Go side without any (its plugin.yaml) says its lastError. */
function initialErrors(state, errors) {
  const unsaid = state.goStatus === 'error' && state.lastError && !errors.some((e) => sourceOf(e) === 'go');
  const all = unsaid ? [{ message: state.lastError }, ...errors] : errors;
  return all.length ? all : null;
}

/** The plugin's state, once its Vite server is ready (the stream says when). */
function viteReady(pluginId, state, events) {
  if (state.viteURL) return Promise.resolve(state);
  document.getElementById('status').textContent = `waiting for ${pluginId}'s Vite server…`;
  return new Promise((resolve) => {
    events.addEventListener('plugin/devserver/status', function wait(event) {
      const next = JSON.parse(event.data);
      if (next.pluginID === pluginId && next.viteURL) {
        events.removeEventListener('plugin/devserver/status', wait);
        resolve(next);
      }
    });
  });
}

/** The entry module, imported as the IDE imports it (its URL, its timeout, its words when it fails). */
async function importEntry(pluginId, state, entry) {
  const url = state.viteURL + entry;
  mark('import entry');
  const module = import(/* @vite-ignore */ url).catch((error) => {
    throw devImportFailure(pluginId, url, state.vitePort, error);
  });
  return withImportTimeout(pluginId, module);
}

async function boot() {
  window.__preview = { ready: false, error: null, refused: null, view: null };
  const config = JSON.parse(document.getElementById('plugindev-preview').textContent);
  const { pluginId, entry } = config;
  const events = new EventSource(config.events); // its plugin's status and error events, from the newest on
  const state = await viteReady(pluginId, config.state, events);
  // a page that cannot learn meta and settings still shows the plugin, and says so
  const context = json(`/web/plugin-context/${encodeURIComponent(pluginId)}`).catch((error) => ({
    meta: { id: pluginId }, settings: {}, notes: [`meta and settings are missing: ${error.message}`],
  }));
  await injectRefreshHook(state.viteURL);
  await fillShared();
  let plugin;
  try {
    plugin = validatePluginExports(await importEntry(pluginId, state, entry));
  } catch (error) {
    showRefusal(pluginId, error);
    return;
  }
  const { meta, settings, notes } = await context;
  setPreviewContext({ meta, settings });
  const routes = registeredRoutes(plugin);
  const host = new HostView(state, config.errors);
  events.addEventListener('plugin/devserver/status', (event) => {
    const next = JSON.parse(event.data);
    if (next.pluginID === pluginId) host.status(next);
  });
  events.addEventListener('plugin/devserver/error', (event) => {
    const payload = JSON.parse(event.data);
    if (payload.pluginID === pluginId) host.showErrors(payload.errors);
  });
  document.getElementById('status').remove();
  // the host's own renderer: react-dom/client is not on the shared list, and is imported only now, after the hook
  const { createRoot } = await LAZY['react-dom/client']();
  const root = createRoot(document.getElementById('root'));
  const reason = noRouteReason(plugin, routes);
  root.render(h(Preview, { pluginId, routes, reason, notes: [...config.notes, ...notes], host }));
  window.__preview.view = host.view;
  window.__preview.ready = true;
  mark('rendered');
}

boot().catch((error) => {
  window.__preview.error = String(error?.stack ?? error);
  const status = document.getElementById('status') ?? document.body.appendChild(document.createElement('p'));
  status.textContent = `The preview could not load the plugin: ${error}`;
  console.error('[plugindev preview]', error);
});
