// What the IDE does with a dev plugin's module between importing it and rendering it (SPEC §6b, Omniview at
// 94485cce: core/validation.ts, core/PluginService.ts, react/usePluginRoutes.ts), rewritten here so the preview
// accepts and refuses exactly what the IDE does, with the IDE's words. Pure functions: no React, no DOM, so
// tests/preview_host/ide.test.mjs runs them in Node.

/** The IDE's import timeout (PluginServiceConfig.importTimeoutMs). */
export const IMPORT_TIMEOUT_MS = 30_000;

/** A refusal of the module's exports; `errors` are the short forms the IDE keeps in its plugin state. */
export class PluginValidationError extends Error {
  constructor(message, errors = [message]) {
    super(message);
    this.name = 'PluginValidationError';
    this.errors = errors;
  }
}

/** The IDE's own error for an import that never settles. */
export class PluginTimeoutError extends Error {
  constructor(pluginId, timeoutMs) {
    super(`Plugin "${pluginId}" import timed out after ${timeoutMs}ms`);
    this.name = 'PluginTimeoutError';
  }
}

/** `promise`, or a PluginTimeoutError once `timeoutMs` has passed without it settling. */
export function withImportTimeout(pluginId, promise, timeoutMs = IMPORT_TIMEOUT_MS) {
  let timer;
  const timeout = new Promise((_resolve, reject) => {
    timer = setTimeout(() => reject(new PluginTimeoutError(pluginId, timeoutMs)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** How the IDE words a failed dev import (adapters/importPlugin.ts). */
export function devImportFailure(pluginId, url, port, error) {
  const message = error instanceof Error ? error.message : String(error);
  return new Error(`Dev plugin "${pluginId}" failed to load from ${url}: ${message}. `
    + `Ensure the plugin dev server is running on port ${port}.`);
}

/** The line the IDE logs for any load failure (PluginService.handleLoadError). */
export function loadFailure(pluginId, error) {
  return `Plugin "${pluginId}" failed to load: ${error instanceof Error ? error.message : String(error)}`;
}

const isRecord = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);

/** A sidebar or drawer key must be GROUP::VERSION::KIND: three non-empty parts, no white space. */
export function checkResourceKey(key, kind) {
  if (!key || typeof key !== 'string') {
    throw new PluginValidationError(`${kind} key is empty or not a string`);
  }
  const expected = `${kind} key '${key}' is malformed, expected GROUP::VERSION::KIND`;
  if (/\s/.test(key)) throw new PluginValidationError(`${expected} (no spaces allowed)`, [expected]);
  const parts = key.split('::');
  if (parts.length !== 3) throw new PluginValidationError(expected);
  if (parts.some((part) => !part)) throw new PluginValidationError(`${expected} (empty segment)`, [expected]);
}

function checkRoutesValue(routes) {
  if (routes !== undefined && routes !== null && !Array.isArray(routes)) {
    throw new PluginValidationError("'plugin.Routes' must be an array");
  }
}

// sidebars and drawers: an object of resource key → component (a function)
function checkSurfaceMap(exports, key, kind, valueWord) {
  const map = exports[key];
  if (map === undefined || map === null) return;
  if (!isRecord(map)) throw new PluginValidationError(`'${key}' must be an object`);
  const errors = [];
  for (const [resourceKey, value] of Object.entries(map)) {
    checkResourceKey(resourceKey, kind);
    if (typeof value !== 'function') {
      errors.push(`${kind} value for key '${resourceKey}' must be ${valueWord}, got ${typeof value}`);
    }
  }
  if (errors.length) {
    const title = kind === 'sidebar' ? 'Sidebar' : 'Drawer';
    throw new PluginValidationError(`${title} validation failed: ${errors.join('; ')}`, errors);
  }
}

function checkExtensionPoints(plugin) {
  const points = plugin._extensions ?? plugin.extensions ?? [];
  if (!Array.isArray(points)) return;
  const seen = new Set();
  for (const point of points) {
    if (point === null || typeof point !== 'object') {
      throw new PluginValidationError('Extension point definition must be an object');
    }
    if (!point.id || typeof point.id !== 'string') {
      throw new PluginValidationError('Extension point definition must have a string "id" field');
    }
    if (seen.has(point.id)) {
      throw new PluginValidationError(`Duplicate extension point ID '${point.id}' within the same plugin`,
        [`Duplicate extension point ID '${point.id}'`]);
    }
    seen.add(point.id);
  }
}

/** The IDE's checks of a plugin module's exports, in its order; throws PluginValidationError, else returns the
 * `plugin` export. Reading `_routes` (not the `Routes` getter) is deliberate: the getter throws without a root. */
export function validatePluginExports(exports) {
  if (exports === null || exports === undefined || typeof exports !== 'object') {
    throw new PluginValidationError('Plugin exports are null or not an object', ['exports are null or not an object']);
  }
  if (!('plugin' in exports) || exports.plugin === null || exports.plugin === undefined) {
    throw new PluginValidationError("Missing required 'plugin' export");
  }
  const { plugin } = exports;
  if (typeof plugin === 'function') {
    throw new PluginValidationError("'plugin' must be an object, not a function");
  }
  if (typeof plugin !== 'object' || Array.isArray(plugin)) {
    throw new PluginValidationError("'plugin' must be an object (PluginWindow instance)", ["'plugin' must be an object"]);
  }
  if ('_routes' in plugin) checkRoutesValue(plugin._routes);
  else if ('Routes' in plugin) checkRoutesValue(plugin.Routes);
  if ('extensionRegistrations' in exports && exports.extensionRegistrations !== undefined
      && !Array.isArray(exports.extensionRegistrations)) {
    throw new PluginValidationError("'extensionRegistrations' must be an array");
  }
  checkSurfaceMap(exports, 'sidebars', 'sidebar', 'a component (function)');
  checkSurfaceMap(exports, 'drawers', 'drawer', 'a factory function');
  checkExtensionPoints(plugin);
  return plugin;
}

/** The routes the IDE registers for a validated plugin: `_routes` when the object has that key at all (a
 * PluginWindow compiled with class fields always has it, even when only setRootPage was called), else `Routes`;
 * anything unreadable or not an array is no route. */
export function registeredRoutes(plugin) {
  let routes;
  try {
    routes = '_routes' in plugin ? plugin._routes ?? [] : 'Routes' in plugin ? plugin.Routes ?? [] : [];
  } catch {
    routes = []; // the Routes getter throws without a root page or router
  }
  return Array.isArray(routes) ? routes : [];
}

/** Child routes made relative, as the IDE nests them under /_plugin/<id>/: leading slashes go, index routes
 * lose their path. */
export function nestedRoutes(routes) {
  return routes.map((route) => {
    const nested = { ...route, path: route.index ? undefined : route.path?.replace(/^\/+/, '') };
    if (route.children) nested.children = nestedRoutes(route.children);
    return nested;
  });
}

/** The base path of a plugin's routes in the IDE's router. */
export function pluginBase(pluginId) {
  return `/_plugin/${pluginId}`;
}

/** Why a plugin whose exports passed shows no page of its own, and the fix; "" when it registers routes. */
export function noRouteReason(plugin, routes) {
  if (routes.length) return '';
  const rootOnly = plugin.root && '_routes' in plugin && !plugin._routes;
  if (rootOnly) {
    return 'The IDE registers no route for this plugin: it reads plugin._routes, which setRootPage leaves empty. '
      + "Register the page with .withRoutes([{ path: '', Component: YourPage }]).";
  }
  return 'The IDE registers no route for this plugin: it has neither routes nor a root page. '
    + "Register a page with .withRoutes([{ path: '', Component: YourPage }]).";
}
