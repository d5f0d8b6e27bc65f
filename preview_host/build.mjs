// Build the preview host bundle: `node build.mjs OUTDIR` (scripts/build-preview-host.sh calls it with
// web/preview/host). The shared list and host versions come from shims/default-manifest.yaml (one source of
// truth): every npm-published specifier gets a lazy loader, every unpublished @omniviewdev one a stand-in built
// from shims/host-exports.json. React is bundled in its development build (Fast Refresh needs it). The output is
// deterministic for the same inputs (no timestamps, no absolute paths), so CI can rebuild it and compare.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import YAML from 'yaml';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.dirname(here);
const outdir = path.resolve(process.argv[2] ?? path.join(repo, 'web', 'preview', 'host'));

const manifest = YAML.parse(fs.readFileSync(path.join(repo, 'shims', 'default-manifest.yaml'), 'utf8'));
const hostExports = JSON.parse(fs.readFileSync(path.join(repo, 'shims', 'host-exports.json'), 'utf8')).packages;
const pkg = JSON.parse(fs.readFileSync(path.join(here, 'package.json'), 'utf8'));

function packageOf(spec) {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

// The bundle must be the host's versions: package.json pins exactly manifest.host_versions.
const drift = Object.entries(manifest.host_versions)
  .filter(([name, version]) => pkg.dependencies[name] !== version)
  .map(([name, version]) => `${name}: package.json ${pkg.dependencies[name]}, host ${version}`);
if (drift.length) throw new Error(`preview_host/package.json differs from host_versions: ${drift.join('; ')}`);

// React's own modules are loaded at once (they register with nothing); everything else after the Refresh hook.
const EAGER = new Set(['react', 'react/jsx-runtime', 'react/jsx-dev-runtime', 'react/compiler-runtime']);
const published = manifest.packages.filter((spec) => packageOf(spec) in manifest.host_versions);
const standIns = manifest.packages.filter((spec) => !(packageOf(spec) in manifest.host_versions));
const eager = published.filter((spec) => EAGER.has(spec));
const lazy = published.filter((spec) => !EAGER.has(spec));

const lines = ['// from shims/default-manifest.yaml and shims/host-exports.json'];
eager.forEach((spec, i) => lines.push(`import * as eager${i} from ${JSON.stringify(spec)};`));
lines.push('', '/** Specifier -> module object, loaded before the Refresh hook exists (React itself only). */');
lines.push('export const EAGER = {');
eager.forEach((spec, i) => lines.push(`  ${JSON.stringify(spec)}: eager${i},`));
lines.push('};', '', '/** Specifier -> loader, called after the hook is injected (ReactDOM registers then); react-dom/client is\n * the host\'s own renderer, not a shared specifier. */');
lines.push('export const LAZY = {');
// through `export * as ns`: a dynamic import of a CommonJS package (react-dom) alone would carry only `default`
for (const spec of [...lazy, 'react-dom/client']) {
  lines.push(`  ${JSON.stringify(spec)}: () => import(${JSON.stringify(`plugindev:ns:${spec}`)}).then((m) => m.ns),`);
}
lines.push('};', '', '/** Unpublished host specifier -> its export names (the stand-ins are made from these). */');
lines.push('export const STAND_INS = {');
for (const spec of standIns) lines.push(`  ${JSON.stringify(spec)}: ${JSON.stringify(hostExports[spec] ?? [])},`);
lines.push('};', '', `export const HOST_VERSIONS = ${JSON.stringify(manifest.host_versions)};`, '');
// host.js imports it as the virtual module `plugindev:shared` (nothing generated lands in the sources)
const sharedModule = {
  name: 'plugindev-shared',
  setup(build) {
    build.onResolve({ filter: /^plugindev:shared$/ }, (args) => ({ path: args.path, namespace: 'plugindev' }));
    build.onLoad({ filter: /.*/, namespace: 'plugindev' }, () => ({ contents: lines.join('\n'), resolveDir: here }));
    build.onResolve({ filter: /^plugindev:ns:/ }, (args) => ({
      path: args.path.slice('plugindev:ns:'.length), namespace: 'plugindev-ns',
    }));
    build.onLoad({ filter: /.*/, namespace: 'plugindev-ns' }, (args) => ({
      contents: `export * as ns from ${JSON.stringify(args.path)};`, resolveDir: here,
    }));
  },
};

fs.rmSync(outdir, { recursive: true, force: true });
await esbuild.build({
  entryPoints: [path.join(here, 'src', 'host.js')],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2020',
  define: { 'process.env.NODE_ENV': '"development"' },
  minify: true,
  keepNames: true, // React's development warnings name components by their function names
  legalComments: 'linked',
  chunkNames: 'chunks/[name]-[hash]',
  assetNames: 'assets/[name]-[hash]',
  loader: { '.ttf': 'file' },
  plugins: [sharedModule],
  logLevel: 'warning',
  // the dev server's URLs (/@react-refresh, the plugin entry) are imported at run time as they are
  logOverride: { 'unsupported-dynamic-import': 'silent' },
});
console.log(`preview host built in ${outdir}`);
