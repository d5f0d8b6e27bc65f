// A headless browser driven line by line from Python (tests/browser_driver.py): one JSON command per stdin
// line, one JSON answer per stdout line. Commands: goto {url}, evaluate {fn, arg} (fn: a function's source,
// run in the page with arg), wait {fn, arg, timeout} (until fn(arg) is truthy; answers its value), click
// {selector}, fill {selector, value}, select {selector, value}, messages (console errors and warnings, page
// errors), close. `node driver.mjs '{"engine": "chromium"|"firefox"|"webkit", "executable": PATH, "hostDir":
// DIR, ...}'` (engines/*.mjs say what else each needs); the browser closes on stdin's end.
import { createRequire } from 'node:module';
import path from 'node:path';
import readline from 'node:readline';

const args = JSON.parse(process.argv[2]);
const require = createRequire(path.join(args.hostDir, 'package.json'));
const { open } = await import(`./engines/${args.engine}.mjs`);
const browser = await open(args, require);

const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  const { op, ...rest } = JSON.parse(line);
  if (op === 'close') break;
  try {
    process.stdout.write(JSON.stringify({ ok: true, value: (await browser[op]({ timeout: 30000, ...rest })) ?? null }) + '\n');
  } catch (error) {
    process.stdout.write(JSON.stringify({ ok: false, error: String(error?.message ?? error) }) + '\n');
  }
}
await browser.close();
