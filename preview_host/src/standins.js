// Working stand-ins for the host's unpublished packages (@omniviewdev/runtime, @omniviewdev/ui, ...), made from
// their export names (shims/host-exports.json) so every name a plugin imports exists:
//   - components (PascalCase) render their children in a labelled frame; `*Provider`s pass children through;
//   - hooks (`useX`) return empty data and say so once in the console;
//   - `*Context` are real React contexts; PluginWindow and PluginContextProvider are real (SPEC §5);
//   - anything else (clients, enums, helpers, model namespaces) is an inert value: callable, constructible,
//     and every property of it is inert too.
import * as React from 'react';

const h = React.createElement;

/** What usePluginContext answers in the IDE: `{ pluginId, meta, settings }` (SPEC §6b). The preview's host sets
 * the values it has for the plugin it renders (setPreviewContext), so a provider a plugin renders itself with only a
 * pluginId gets them too, as the IDE's provider fetches them. */
export const PluginContext = React.createContext(undefined);
const previewContext = { meta: {}, settings: {} };

export function setPreviewContext({ meta, settings }) {
  previewContext.meta = meta;
  previewContext.settings = settings;
}

export function PluginContextProvider({ pluginId, children }) {
  const value = React.useMemo(() => ({ pluginId, meta: previewContext.meta, settings: previewContext.settings }),
    [pluginId]);
  return h(PluginContext.Provider, { value }, children);
}

function usePluginContext() {
  const context = React.useContext(PluginContext);
  if (!context) throw new Error('usePluginContext must be used within a PluginContextProvider');
  return context;
}

/** The runtime's PluginWindow builder (SPEC §5, "What a plugin's plugin export is"). Its fields are class fields,
 * as the IDE's compiled runtime has them: `_routes` exists (undefined) even when only setRootPage is called, which
 * is what makes the IDE register no route for such a plugin. */
export class PluginWindow {
  _extensions = undefined;
  root = undefined;
  pages = {};
  _routes = undefined;

  setRootPage(component) {
    this.root = component;
    return this;
  }

  withPage(name, component) {
    if (name in this.pages) {
      console.warn(`PluginWindow: a page named ${JSON.stringify(name)} exists already; this one is ignored`);
      return this;
    }
    this.pages[name] = component;
    return this;
  }

  withRoutes(routes) {
    this._routes = routes;
    return this;
  }

  registerExtensionPoints(points) {
    this._extensions = [...(this._extensions ?? []), ...(Array.isArray(points) ? points : [points])];
    return this;
  }

  get Routes() {
    if (this._routes) return this._routes;
    if (this.root) return [{ path: '', index: true, Component: this.root }];
    throw new Error('cannot use plugin without a root page or router');
  }

  get Window() {
    if (this.root && !this._routes) return h(this.root);
    const { RouterProvider, createMemoryRouter } = window.__OMNIVIEW_SHARED__['react-router-dom'];
    return h(RouterProvider, { router: createMemoryRouter(this.Routes) });
  }

  get extensions() {
    return this._extensions ?? [];
  }
}

const told = new Set();

function tellOnce(spec, name) {
  const key = `${spec} ${name}`;
  if (told.has(key)) return;
  told.add(key);
  console.warn(`[plugindev preview] ${name} from ${spec} is a stand-in: it returns empty data`);
}

/** A value that can be called, constructed, read and iterated, and is empty whichever way it is used. */
export const INERT = new Proxy(function inert() {}, {
  apply: () => INERT,
  construct: () => ({}),
  get(target, prop) {
    if (prop === Symbol.iterator) return function* empty() {};
    if (prop === Symbol.toPrimitive) return () => '';
    if (prop === 'then') return undefined; // not a thenable: `await` gives it back as it is
    if (prop === 'prototype') return target.prototype;
    return INERT;
  },
});

/** What a stand-in hook answers: the shapes of react-query results and list hooks, all empty. */
function emptyHookResult() {
  return new Proxy({
    data: [], items: [], error: null, isLoading: false, isFetching: false, isError: false, isSuccess: true,
    status: 'success', refetch: async () => undefined,
  }, {
    get: (target, prop) => (prop in target ? target[prop] : prop === Symbol.iterator ? [][Symbol.iterator] : INERT),
  });
}

function standInHook(spec, name) {
  if (name === 'usePluginContext') return usePluginContext;
  if (name === 'useResolvedPluginId') return () => usePluginContext().pluginId;
  return function useStandIn() {
    tellOnce(spec, name);
    return emptyHookResult();
  };
}

function standInComponent(spec, name) {
  if (name.endsWith('Provider')) {
    const Provider = ({ children }) => h(React.Fragment, null, children);
    Provider.displayName = `${name} (stand-in)`;
    return Provider;
  }
  const Frame = ({ children, label, title }) => h('div', {
    className: 'plugindev-stand-in', 'data-stand-in': `${spec}#${name}`,
    style: { border: '1px dashed #8b949e', borderRadius: 4, padding: '4px 6px', margin: 2 },
  }, h('small', { style: { color: '#8b949e', fontFamily: 'monospace', display: 'block' } },
    `${name} · stand-in${typeof (label ?? title) === 'string' ? `: ${label ?? title}` : ''}`), children);
  Frame.displayName = `${name} (stand-in)`;
  return Frame;
}

// modules of the runtime whose upper-case names are functions and namespaces, not components
const DATA_MODULES = new Set(['@omniviewdev/runtime/api', '@omniviewdev/runtime/runtime', '@omniviewdev/runtime/models']);

const REAL = { PluginWindow, PluginContext, PluginContextProvider };

function standInExport(spec, name) {
  if (spec.startsWith('@omniviewdev/runtime') && name in REAL) return REAL[name];
  if (/^use[A-Z0-9]/.test(name)) return standInHook(spec, name);
  if (/Context$/.test(name)) return React.createContext(undefined);
  // upper-case names that are data in the host (enums, classes, model and client namespaces) stay inert
  if (/^[A-Z]/.test(name) && !/(Client|Registry|Store|Types|Code|State|Policy|KEY|HEIGHTS)$/.test(name)
      && !/^[A-Z0-9_]+$/.test(name) && !DATA_MODULES.has(spec)) {
    return standInComponent(spec, name);
  }
  return INERT;
}

/** Specifier -> module-like object with every listed name (and a default). */
export function standInModules(standIns) {
  const modules = {};
  for (const [spec, names] of Object.entries(standIns)) {
    const module = { __plugindevStandIn: true };
    for (const name of names) module[name] = standInExport(spec, name);
    module.default = module;
    modules[spec] = module;
  }
  return modules;
}
