// The preview host: loads one plugin exactly as the IDE does in dev mode (SPEC §5, "How the host loads a dev
// plugin") and keeps it live:
//   1. the Refresh runtime from the plugin's Vite server installs the React DevTools hook;
//   2. then window.__OMNIVIEW_SHARED__ is filled (Promise.allSettled): React (bundled, development build),
//      the npm-published shared packages the plugin's modules read (loaded only now, so ReactDOM registers
//      with the hook; the others follow once it renders), and stand-ins for the unpublished @omniviewdev
//      packages;
//   3. the entry's named `plugin` export is imported from Vite and its Window rendered inside an error boundary
//      and PluginContextProvider keyed `<id>-<loadedAt>`.
// The event stream drives the rest: a new plugin pid (a Go reload) gives a new key (only the plugin's subtree
// re-mounts), a failed Go build shows an overlay with its errors until the next good build, and a Vite server
// on another port reloads the page (the Refresh runtime belongs to one server).
import * as React from 'react';
import { EAGER, LAZY, STAND_INS } from 'plugindev:shared';
import { PluginContextProvider, standInModules } from './standins.js';

const h = React.createElement;
const trace = { steps: [], hookBeforeReactDom: null, failed: [] };
window.__previewTrace = trace;

function meta(name) {
  return document.querySelector(`meta[name="${name}"]`)?.content ?? '';
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
  trace.steps.push('injectIntoGlobalHook');
}

// A shim reads its specifier from here at once, as it is evaluated (shims/shim.mjs.j2).
const SHIM_READ = /window\.__OMNIVIEW_SHARED__\?\.\[("(?:[^"\\]|\\.)*")\]/;
// Import and export statements (a line each, as Vite serves modules) and dynamic imports of a URL; Vite has
// rewritten every specifier to a path. Its own client and the Refresh runtime read no shared package.
const IMPORTS = /^\s*(?:import|export)\b[^'"\n;]*?["']([./][^"'\n]*)["']|\bimport\(\s*["']([./][^"'\n]*)["']\s*\)/gm;
const NOT_WALKED = /^\/@(?:vite\/|react-refresh)/;
const CRAWL_LIMIT = 3000;

// The shared specifiers the plugin's module graph reads, found by walking it on its Vite server (the requests
// the import makes next anyway, then answered from Vite's caches); null when the walk cannot tell.
async function sharedInGraph(viteURL, entry) {
  const origin = new URL(viteURL).origin;
  const seen = new Set([new URL(entry, `${viteURL}/`).href]);
  const found = new Set();
  let frontier = [...seen];
  try {
    while (frontier.length) {
      const texts = await Promise.all(frontier.map(async (url) => {
        const response = await fetch(url);
        return response.ok ? [url, await response.text()] : [url, ''];
      }));
      frontier = [];
      for (const [url, text] of texts) {
        const shim = SHIM_READ.exec(text);
        if (shim) {
          found.add(JSON.parse(shim[1]));
          continue;
        }
        for (const match of text.matchAll(IMPORTS)) {
          const next = new URL(match[1] ?? match[2], url);
          if (next.origin !== origin || NOT_WALKED.test(next.pathname) || seen.has(next.href)) continue;
          seen.add(next.href);
          frontier.push(next.href);
        }
      }
      if (seen.size > CRAWL_LIMIT) return null;
    }
  } catch (error) {
    console.warn('[plugindev preview] could not walk the plugin\'s modules; loading every shared package:', error);
    return null;
  }
  return found;
}

// Loads `names` onto `shared`; says which did not load, once each.
async function load(shared, names) {
  const results = await Promise.allSettled(names.map((name) => LAZY[name]()));
  const failed = [];
  results.forEach((result, i) => {
    if (result.status === 'fulfilled') shared[names[i]] = result.value;
    else failed.push(`${names[i]}: ${result.reason}`);
  });
  if (failed.length) console.warn('[plugindev preview] shared modules that did not load:', failed);
  trace.failed.push(...failed);
}

// The packages the plugin reads are loaded before it is imported, the others right after it renders: the first
// view does not wait for all of them (most plugins use a few), and a later edit that imports another one finds it.
async function fillShared(viteURL, entry) {
  trace.hookBeforeReactDom = typeof window.__REACT_DEVTOOLS_GLOBAL_HOOK__ === 'object';
  const shared = (window.__OMNIVIEW_SHARED__ ??= {});
  Object.assign(shared, EAGER, standInModules(STAND_INS));
  const names = Object.keys(LAZY).filter((name) => name !== 'react-dom/client');
  const used = await sharedInGraph(viteURL, entry);
  const first = used ? names.filter((name) => used.has(name)) : names;
  trace.loadedFirst = first;
  await load(shared, first);
  trace.steps.push('shared filled');
  const rest = names.filter((name) => !first.includes(name));
  return () => load(shared, rest).then(() => trace.steps.push('rest filled'));
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

/** The plugin's Window, made once per mount (a new router per mount, as a reload in the IDE). */
function PluginMount({ plugin }) {
  const window = React.useMemo(() => plugin.Window, [plugin]);
  return window;
}

function Overlay({ errors }) {
  return h('div', { className: 'build-overlay', 'data-testid': 'build-overlay', role: 'alert' },
    h('h2', null, 'Go build failed: the plugin keeps its last good backend'),
    h('ul', null, errors.map((e, i) => h('li', { key: i },
      h('code', null, e.file ? `${e.file}:${e.line}:${e.column}` : ''), ' ', h('span', null, e.message)))),
    h('p', null, 'Fix the errors and save: this goes away after the next good build.'));
}

function Preview({ pluginId, plugin, host }) {
  const [view, setView] = React.useState(host.view);
  React.useEffect(() => host.listen(setView), [host]);
  const key = `${pluginId}-${view.loadedAt}`;
  return h(React.Fragment, null,
    h('header', { className: 'preview-bar' },
      h('b', null, pluginId), ` · pid ${view.pid || '–'} · mounted ${view.mounts}×`),
    h('main', { 'data-testid': 'preview-mount', 'data-mount': view.mounts, 'data-key': key },
      h(ErrorBoundary, { key },
        h(PluginContextProvider, { pluginId }, h(PluginMount, { plugin })))),
    view.errors ? h(Overlay, { errors: view.errors }) : null);
}

/** What the page shows besides the plugin, moved by the event stream. */
class HostView {
  constructor(state) {
    this.view = { pid: state.pid, loadedAt: Date.now(), mounts: 1, errors: initialErrors(state) };
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
    if (this.view.errors && state.goStatus === 'ready' && !state.lastError) this.set({ errors: null });
  }

  buildErrors(payload) {
    if (payload.errors?.length) this.set({ errors: payload.errors });
  }
}

function initialErrors(state) {
  return state.goStatus === 'error' && state.lastError ? [{ message: state.lastError }] : null;
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

async function boot() {
  window.__preview = { ready: false, error: null, view: null };
  const pluginId = meta('plugindev-plugin');
  const entry = meta('plugindev-entry');
  const { lastEventId } = await json('/web/cursor');
  const events = new EventSource(`/api/events?lastEventId=${lastEventId}`);
  const state = await viteReady(pluginId, await json(`/api/plugins/${encodeURIComponent(pluginId)}`), events);
  await injectRefreshHook(state.viteURL);
  const fillRest = await fillShared(state.viteURL, entry);
  trace.steps.push('import entry');
  const module = await import(/* @vite-ignore */ state.viteURL + entry);
  if (!module.plugin) throw new Error(`${entry} has no named \`plugin\` export (exports: ${Object.keys(module)})`);
  const host = new HostView(state);
  events.addEventListener('plugin/devserver/status', (event) => {
    const next = JSON.parse(event.data);
    if (next.pluginID === pluginId) host.status(next);
  });
  events.addEventListener('plugin/devserver/error', (event) => {
    const payload = JSON.parse(event.data);
    if (payload.pluginID === pluginId) host.buildErrors(payload);
  });
  document.getElementById('status').remove();
  // the host's own renderer: react-dom/client is not on the shared list, and is imported only now, after the hook
  const { createRoot } = await LAZY['react-dom/client']();
  const root = createRoot(document.getElementById('root'));
  root.render(h(Preview, { pluginId, plugin: module.plugin, host }));
  window.__preview.view = host.view;
  window.__preview.ready = true;
  trace.steps.push('rendered');
  await fillRest();
}

boot().catch((error) => {
  window.__preview.error = String(error?.stack ?? error);
  const status = document.getElementById('status') ?? document.body.appendChild(document.createElement('p'));
  status.textContent = `The preview could not load the plugin: ${error}`;
  console.error('[plugindev preview]', error);
});
