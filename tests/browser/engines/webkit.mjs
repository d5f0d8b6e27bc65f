// WebKit through classic WebDriver: WebKitGTK's WebKitWebDriver driving its MiniBrowser (Debian:
// webkit2gtk-driver), in a private Xvfb display since the GTK MiniBrowser has no headless mode. Playwright's
// WebKit is a patched build that cannot be downloaded here; this is the engine Safari and GNOME Web share.
//
// Classic WebDriver reports no console messages, so a collector is put in the page after each navigation:
// what the page logs before that (while the document loads) is not seen; a page that reloads itself later
// loses the collector, and `messages` then says so as an error.
import { spawn } from 'node:child_process';
import net from 'node:net';

import { ACTION_TIMEOUT_MS, ELEMENT_THERE, clearField, selectOption } from './page-functions.mjs';

const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';
const POLL_MS = 16;
const COLLECTOR = `() => {
  if (window.__driverMessages) return;
  const messages = window.__driverMessages = [];
  for (const [method, level] of [['error', 'error'], ['warn', 'warning']]) {
    const original = console[method].bind(console);
    console[method] = (...items) => { messages.push(level + ': ' + items.map(String).join(' ')); original(...items); };
  }
  addEventListener('error', (event) => messages.push('pageerror: ' + event.message));
  addEventListener('unhandledrejection', (event) => messages.push('pageerror: ' + (event.reason?.message ?? event.reason)));
}`;
const TAKE_MESSAGES = '() => window.__driverMessages ? window.__driverMessages.splice(0) : null';

function firstLine(stream) {
  return new Promise((resolve, reject) => {
    let text = '';
    stream.on('data', (chunk) => {
      text += chunk;
      if (text.includes('\n')) resolve(text.split('\n')[0].trim());
    });
    stream.on('end', () => reject(new Error('Xvfb ended before it gave its display')));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function open(args) {
  const xvfb = spawn(args.xvfb, ['-displayfd', '3', '-screen', '0', '1400x900x24', '-nolisten', 'tcp'],
    { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
  const display = await firstLine(xvfb.stdio[3]);
  const port = await freePort();
  const driver = spawn(args.webkitDriver, [`--port=${port}`],
    { env: { ...process.env, DISPLAY: `:${display}` }, stdio: 'ignore' });
  const base = `http://127.0.0.1:${port}`;

  async function request(method, path, body) {
    const response = await fetch(base + path, {
      method, headers: { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const { value } = await response.json();
    if (!response.ok) throw new Error(`${value.error}: ${value.message}`);
    return value;
  }

  for (let tries = 0; ; tries += 1) {
    try {
      await request('GET', '/status');
      break;
    } catch (error) {
      if (tries > 200) throw new Error(`WebKitWebDriver did not answer on ${base}: ${error.message}`);
      await sleep(50);
    }
  }
  const { sessionId } = await request('POST', '/session', {
    capabilities: { alwaysMatch: { 'webkitgtk:browserOptions': { binary: args.executable, args: ['--automation'] } } },
  });
  const session = `/session/${sessionId}`;
  await request('POST', `${session}/window/rect`, { width: 1400, height: 900 });

  const evaluate = ({ fn, arg }) => request('POST', `${session}/execute/sync`, {
    script: 'return (0, eval)(`(${arguments[0]})`)(arguments[1]);', args: [fn, arg ?? null],
  });
  const find = async (selector) => {
    const found = await request('POST', `${session}/element`, { using: 'css selector', value: selector });
    return `${session}/element/${found[ELEMENT]}`;
  };
  const wait = async ({ fn, arg, timeout }) => {
    const deadline = Date.now() + timeout;
    for (;;) {
      const value = await evaluate({ fn, arg });
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`Timeout ${timeout}ms exceeded waiting for ${fn}`);
      await sleep(POLL_MS);
    }
  };
  // as Playwright does before acting on an element: wait until the page has rendered it
  const rendered = (selector) => wait({ fn: ELEMENT_THERE, arg: selector, timeout: ACTION_TIMEOUT_MS });
  const noted = async () => {
    const taken = await evaluate({ fn: TAKE_MESSAGES });
    if (taken !== null) return taken;
    await evaluate({ fn: COLLECTOR });
    return ['error: [webkit driver] the page reloaded itself: what it logged before now was not seen'];
  };

  return {
    goto: async ({ url }) => {
      await request('POST', `${session}/url`, { url });
      await evaluate({ fn: COLLECTOR });
      return request('GET', `${session}/url`);
    },
    evaluate,
    wait,
    click: async ({ selector }) => {
      await rendered(selector);
      return request('POST', `${await find(selector)}/click`, {});
    },
    // as Playwright's fill: the old text goes with one input event, then the new text is typed
    fill: async ({ selector, value }) => {
      await rendered(selector);
      await evaluate({ fn: clearField.toString(), arg: selector });
      if (value) await request('POST', `${await find(selector)}/value`, { text: value });
    },
    select: async ({ selector, value }) => {
      await rendered(selector);
      return evaluate({ fn: selectOption.toString(), arg: [selector, value] });
    },
    messages: noted,
    close: async () => {
      await request('DELETE', session).catch(() => {});
      driver.kill();
      xvfb.kill();
    },
  };
}
