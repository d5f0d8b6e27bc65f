// A test host page that loads a dev plugin exactly as the Omniview IDE does (SPEC §5, "How the host loads a
// dev plugin"). Bundled by build.mjs with React's *development* build (NODE_ENV=development): React 19 ships
// no browser ESM build, and Fast Refresh needs the development renderer.
//
// Ordering problem: Fast Refresh only reaches a renderer that registered with the React DevTools global hook
// (`__REACT_DEVTOOLS_GLOBAL_HOOK__.inject`) when its module initialised. So ReactDOM is never imported
// statically here: `react-dom` and `react-dom/client` come from a dynamic `import('./host-dom.js')` (a
// separate chunk; esbuild also runs a CommonJS module's body only on its first require), which runs after Vite's
// `/@react-refresh` runtime has installed the hook with `injectIntoGlobalHook(window)`. `window.__hostTrace`
// records the order so a test can assert it.
import * as React from 'react';
import * as JsxRuntime from 'react/jsx-runtime';
import * as JsxDevRuntime from 'react/jsx-dev-runtime';

/** Stand-in for the IDE's `@omniviewdev/runtime`: just what a plugin's entry uses to name its page. */
export class PluginWindow {
  constructor() {
    this.root = null;
    this.routes = [];
  }

  setRootPage(component) {
    this.root = component;
    return this;
  }

  withRoutes(routes) {
    this.routes = routes;
    return this;
  }

  /** The one page this host renders (it has no router): the root page, else the index route's component. */
  get page() {
    return this.root ?? this.routes.find((route) => route.index || !route.path || route.path === '/')?.Component;
  }
}

/** What the IDE's PluginContext holds, as a plugin page reads it (a fixed plugin here). */
const PLUGIN_CONTEXT = { pluginId: 'plugin', meta: { id: 'plugin', name: 'Plugin', version: '0.0.0' }, settings: {} };

const runtimeStandIn = { PluginWindow, usePluginContext: () => PLUGIN_CONTEXT };

const trace = { steps: [], renderers: [], hookBeforeReactDom: null };
window.__hostTrace = trace;
window.__hostReact = React;

function step(name) {
  trace.steps.push(name);
}

/** Specifier → loader of the module object the plugin's shims read from `window.__OMNIVIEW_SHARED__`. */
const SHARED = {
  react: async () => React,
  'react/jsx-runtime': async () => JsxRuntime,
  'react/jsx-dev-runtime': async () => JsxDevRuntime,
  'react-dom': async () => (await import('./host-dom.js')).ReactDOM,
  'react-dom/client': async () => (await import('./host-dom.js')).ReactDOMClient,
  '@omniviewdev/runtime': async () => runtimeStandIn,
};

async function injectRefreshHook(origin) {
  step('import @react-refresh');
  const refresh = await import(/* @vite-ignore */ `${origin}/@react-refresh`);
  const runtime = refresh.default ?? refresh;
  if (typeof runtime.injectIntoGlobalHook !== 'function') {
    throw new Error(`${origin}/@react-refresh has no injectIntoGlobalHook`);
  }
  runtime.injectIntoGlobalHook(window);
  step('injectIntoGlobalHook');
  // Record every renderer that registers from now on (and whether it can be refreshed).
  const hook = window.__REACT_DEVTOOLS_GLOBAL_HOOK__;
  const inject = hook.inject;
  hook.inject = function (internals) {
    step('renderer registered');
    trace.renderers.push({
      rendererPackageName: internals.rendererPackageName ?? null,
      version: internals.version ?? null,
      refreshCapable: typeof internals.scheduleRefresh === 'function'
        && typeof internals.setRefreshHandler === 'function',
    });
    return inject.apply(this, arguments);
  };
}

async function fillShared() {
  trace.hookBeforeReactDom = typeof window.__REACT_DEVTOOLS_GLOBAL_HOOK__ === 'object';
  step('fill __OMNIVIEW_SHARED__');
  const shared = (window.__OMNIVIEW_SHARED__ ??= {});
  const names = Object.keys(SHARED);
  const results = await Promise.allSettled(names.map((name) => SHARED[name]()));
  const failed = [];
  results.forEach((result, i) => {
    if (result.status === 'fulfilled') shared[names[i]] = result.value;
    else failed.push(`${names[i]}: ${result.reason}`);
  });
  if (failed.length) throw new Error(`shared modules failed to load: ${failed.join('; ')}`);
  return shared;
}

/** The host's wrapper: a new `key` re-mounts only the plugin's subtree (what the IDE does on a Go reload). */
function PluginHost({ component, mountKey }) {
  return React.createElement('div', { 'data-testid': 'plugin-host', 'data-mount': mountKey },
    React.createElement(component, { key: mountKey }));
}

/**
 * Load the plugin served by Vite on 127.0.0.1:`vitePort` and render its named `plugin` export's root page
 * into `container`. Resolves to `{ plugin, remount }`.
 */
export async function loadDevPlugin({ vitePort, container, entry = '/src/entry.ts' }) {
  const origin = `http://127.0.0.1:${vitePort}`;
  await injectRefreshHook(origin);
  const shared = await fillShared();
  window.$RefreshReg$ = () => {};
  window.$RefreshSig$ = () => (type) => type;
  window.__vite_plugin_react_preamble_installed__ = true;
  step('import entry');
  const mod = await import(/* @vite-ignore */ origin + entry);
  const plugin = mod.plugin;
  if (!plugin || typeof plugin.page !== 'function') {
    throw new Error(`${entry} has no named \`plugin\` export with a page (exports: ${Object.keys(mod)})`);
  }
  const { createRoot } = shared['react-dom/client'];
  const root = createRoot(container);
  let mountKey = 0;
  const render = () => root.render(React.createElement(PluginHost, { component: plugin.page, mountKey }));
  render();
  step('rendered');
  return {
    plugin,
    remount() {
      mountKey += 1;
      render();
      return mountKey;
    },
  };
}

/** Page bootstrap: `index.html?vite=PORT[&entry=/src/entry.ts]`. Sets `window.__hostReady` or `__hostError`. */
export function boot() {
  const params = new URLSearchParams(window.location.search);
  const vitePort = Number(params.get('vite'));
  const entry = params.get('entry') ?? '/src/entry.ts';
  const container = document.getElementById('root');
  if (!vitePort) {
    window.__hostError = 'no ?vite=PORT in the page URL';
    console.error(window.__hostError);
    return;
  }
  loadDevPlugin({ vitePort, container, entry }).then(
    (host) => {
      window.__omniviewHost = host;
      window.__hostReady = true;
    },
    (err) => {
      window.__hostError = String((err && err.stack) || err);
      console.error('host failed to load the plugin:', err);
    },
  );
}
