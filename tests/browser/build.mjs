// Build the test host page: `node build.mjs [OUTDIR]` (default ./dist) writes OUTDIR/index.html, host.js and
// its chunks. React's development build (NODE_ENV=development); ESM with code splitting so ReactDOM stays in
// chunks that host.js imports dynamically, after the Fast Refresh hook exists (see host.js).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.resolve(process.argv[2] ?? path.join(here, 'dist'));

fs.rmSync(outdir, { recursive: true, force: true });
await esbuild.build({
  entryPoints: [path.join(here, 'host.js')],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  define: { 'process.env.NODE_ENV': '"development"' },
  minify: false,
  sourcemap: 'linked',
  logLevel: 'warning',
  // the runtime URLs of the dev server are imported as they are
  logOverride: { 'unsupported-dynamic-import': 'silent' },
});
fs.writeFileSync(path.join(outdir, 'index.html'), `<!doctype html>
<html>
<head><meta charset="utf-8"><title>plugindev test host</title></head>
<body>
<div id="root"></div>
<script type="module">
import { boot } from './host.js';
boot();
</script>
</body>
</html>
`);
console.log(`host page built in ${outdir}`);
