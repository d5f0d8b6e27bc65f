// The preview's copy of the IDE's rules (src/ide.js), each accepted and each refused case of SPEC §6b with the
// IDE's words. Run by tests/test_preview_rules.py with `node --test`.
import assert from 'node:assert/strict';
import test from 'node:test';
import {
  devImportFailure, loadFailure, nestedRoutes, noRouteReason, registeredRoutes, validatePluginExports,
  withImportTimeout,
} from '../src/ide.js';

// the runtime's PluginWindow as the IDE's build compiles it: class fields are own properties from the start
class PluginWindow {
  _extensions = undefined;
  root = undefined;
  _routes = undefined;

  setRootPage(component) { this.root = component; return this; }

  withRoutes(routes) { this._routes = routes; return this; }

  get Routes() {
    if (this._routes) return this._routes;
    if (this.root) return [{ path: '', index: true, Component: this.root }];
    throw new Error('cannot use plugin without a root page or router');
  }
}

const Page = () => null;
const refused = (exports, message) => assert.throws(() => validatePluginExports(exports), { message });

test('the module and its plugin export must be objects', () => {
  refused(null, 'Plugin exports are null or not an object');
  refused('module', 'Plugin exports are null or not an object');
  refused({}, "Missing required 'plugin' export");
  refused({ plugin: null }, "Missing required 'plugin' export");
  refused({ plugin: undefined }, "Missing required 'plugin' export");
  refused({ plugin: () => null }, "'plugin' must be an object, not a function");
  refused({ plugin: [] }, "'plugin' must be an object (PluginWindow instance)");
  refused({ plugin: 'x' }, "'plugin' must be an object (PluginWindow instance)");
  const plugin = new PluginWindow().setRootPage(Page);
  assert.equal(validatePluginExports({ plugin }), plugin);
});

test('routes must be an array, read from _routes before the Routes getter', () => {
  refused({ plugin: Object.assign(new PluginWindow(), { _routes: {} }) }, "'plugin.Routes' must be an array");
  refused({ plugin: { Routes: 'x' } }, "'plugin.Routes' must be an array");
  // neither root nor routes: accepted, since _routes is read and the throwing getter is not
  assert.ok(validatePluginExports({ plugin: new PluginWindow() }));
  assert.ok(validatePluginExports({ plugin: { _routes: null } }));
  assert.ok(validatePluginExports({ plugin: { Routes: [] } }));
  assert.ok(validatePluginExports({ plugin: {} }));
  // a plain object whose Routes getter throws: the IDE reads it, and so it throws
  const throwing = { get Routes() { throw new Error('cannot use plugin without a root page or router'); } };
  refused({ plugin: throwing }, 'cannot use plugin without a root page or router');
});

test('extensionRegistrations must be an array when present', () => {
  const plugin = new PluginWindow().setRootPage(Page);
  refused({ plugin, extensionRegistrations: {} }, "'extensionRegistrations' must be an array");
  refused({ plugin, extensionRegistrations: null }, "'extensionRegistrations' must be an array");
  assert.ok(validatePluginExports({ plugin, extensionRegistrations: [] }));
  assert.ok(validatePluginExports({ plugin, extensionRegistrations: undefined }));
});

test('sidebar and drawer keys are GROUP::VERSION::KIND with components', () => {
  const plugin = new PluginWindow().setRootPage(Page);
  refused({ plugin, sidebars: [] }, "'sidebars' must be an object");
  refused({ plugin, drawers: 'x' }, "'drawers' must be an object");
  refused({ plugin, sidebars: { '': Page } }, 'sidebar key is empty or not a string');
  refused({ plugin, sidebars: { 'core::v1 ::Pod': Page } },
    "sidebar key 'core::v1 ::Pod' is malformed, expected GROUP::VERSION::KIND (no spaces allowed)");
  refused({ plugin, sidebars: { 'core::Pod': Page } }, "sidebar key 'core::Pod' is malformed, expected GROUP::VERSION::KIND");
  refused({ plugin, drawers: { 'a::b::c::d': Page } }, "drawer key 'a::b::c::d' is malformed, expected GROUP::VERSION::KIND");
  refused({ plugin, drawers: { 'core::::Pod': Page } },
    "drawer key 'core::::Pod' is malformed, expected GROUP::VERSION::KIND (empty segment)");
  refused({ plugin, sidebars: { 'core::v1::Pod': 'Pod' } },
    "Sidebar validation failed: sidebar value for key 'core::v1::Pod' must be a component (function), got string");
  refused({ plugin, drawers: { 'core::v1::Pod': 1 } },
    "Drawer validation failed: drawer value for key 'core::v1::Pod' must be a factory function, got number");
  assert.ok(validatePluginExports({ plugin, sidebars: { 'core::v1::Pod': Page }, drawers: null }));
});

test('extension points are objects with unique string ids', () => {
  const withPoints = (points) => Object.assign(new PluginWindow().setRootPage(Page), { _extensions: points });
  refused({ plugin: withPoints([null]) }, 'Extension point definition must be an object');
  refused({ plugin: withPoints([{ name: 'x' }]) }, 'Extension point definition must have a string "id" field');
  refused({ plugin: withPoints([{ id: 'a' }, { id: 'a' }]) }, "Duplicate extension point ID 'a' within the same plugin");
  assert.ok(validatePluginExports({ plugin: withPoints([{ id: 'a' }, { id: 'b' }]) }));
  assert.ok(validatePluginExports({ plugin: { extensions: [{ id: 'a' }] } }));
});

test('the routes the IDE registers: _routes when present, else Routes', () => {
  const routes = [{ path: '/', Component: Page }];
  assert.deepEqual(registeredRoutes(new PluginWindow().withRoutes(routes)), routes);
  assert.deepEqual(registeredRoutes(new PluginWindow().setRootPage(Page).withRoutes(routes)), routes);
  // setRootPage alone: _routes exists and is empty, so no route (the Routes getter would have given one)
  assert.deepEqual(registeredRoutes(new PluginWindow().setRootPage(Page)), []);
  assert.deepEqual(registeredRoutes({ Routes: routes }), routes);
  assert.deepEqual(registeredRoutes({ get Routes() { throw new Error('no'); } }), []);
  assert.deepEqual(registeredRoutes({ _routes: 'x' }), []);
  assert.deepEqual(registeredRoutes({}), []);
});

test('routes nest under the plugin: leading slashes go, index routes lose their path', () => {
  assert.deepEqual(nestedRoutes([
    { path: '/', Component: Page, children: [{ index: true, path: '/x', Component: Page }, { path: '//items/:id' }] },
  ]), [
    { path: '', Component: Page, children: [{ index: true, path: undefined, Component: Page }, { path: 'items/:id' }] },
  ]);
});

test('a plugin without routes is told why and how to fix it', () => {
  const rootOnly = new PluginWindow().setRootPage(Page);
  assert.match(noRouteReason(rootOnly, registeredRoutes(rootOnly)), /setRootPage leaves empty.*withRoutes/);
  assert.match(noRouteReason(new PluginWindow(), []), /neither routes nor a root page.*withRoutes/);
  assert.equal(noRouteReason(rootOnly, [{ path: '' }]), '');
});

test('the import is abandoned after the timeout with the IDE words', async () => {
  await assert.rejects(withImportTimeout('slow', new Promise(() => {}), 20),
    { message: 'Plugin "slow" import timed out after 20ms' });
  assert.equal(await withImportTimeout('fast', Promise.resolve('module'), 1000), 'module');
  await assert.rejects(withImportTimeout('broken', Promise.reject(new Error('boom')), 1000), { message: 'boom' });
});

test('failed imports are worded as the IDE words them', () => {
  const error = devImportFailure('p', 'http://127.0.0.1:15173/src/entry.ts', 15173, new TypeError('Failed to fetch'));
  assert.equal(loadFailure('p', error), 'Plugin "p" failed to load: Dev plugin "p" failed to load from '
    + 'http://127.0.0.1:15173/src/entry.ts: Failed to fetch. Ensure the plugin dev server is running on port 15173.');
});
