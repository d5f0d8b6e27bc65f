// The dashboard: one card per plugin (managed and external) with its aggregate status, the parts of its state,
// its build errors as editor links, its controls and its log, all kept current by the event stream.
import { h, render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';
import { aggregateStatus, COLOURS } from './aggregate.js';
import { LogView } from './logview.js';
import { Store, SYSTEM_LOG } from './store.js';
import { follow } from './stream.js';

const html = htm.bind(h);
const EDITOR_KEY = 'plugindev.editorLink';
export const DEFAULT_EDITOR_LINK = 'vscode://file{path}:{line}:{column}';

/** The editor URL of a build error: `{path}` is the absolute path with a leading `/` (also on Windows). */
export function editorLink(template, error) {
  const path = error.file.replace(/\\/g, '/');
  return template.replaceAll('{path}', encodeURI(path.startsWith('/') ? path : `/${path}`))
    .replaceAll('{line}', String(error.line)).replaceAll('{column}', String(error.column));
}

async function call(method, url, body) {
  const response = await fetch(url, {
    method, credentials: 'same-origin', headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error ?? `HTTP ${response.status}`);
  return data;
}

// a duration as plugindev prints one everywhere (orchestrator/common/durations.py): seconds, three significant
// digits, no trailing zeros (0.731 s, 1.26 s, 62.2 s)
function duration(ns) {
  if (!ns) return '–';
  const seconds = ns / 1e9;
  return `${Number(seconds.toFixed(Math.max(0, 2 - Math.floor(Math.log10(seconds)))))} s`;
}

function Controls({ state, previewOrigin, onState }) {
  const [result, setResult] = useState(null);
  const managed = state.mode !== 'external';
  const act = async (action) => {
    setResult({ action, text: '…' });
    try {
      const next = action === 'start'
        ? await call('POST', '/api/plugins', { path: state.devPath })
        : await call('POST', `/api/plugins/${encodeURIComponent(state.pluginID)}/${action}`);
      onState(next);
      setResult({ action, ok: true, text: `${action}: done` });
    } catch (error) {
      setResult({ action, ok: false, text: `${action}: ${error.message}` });
    }
  };
  return html`
    <div class="controls">
      ${['start', 'stop', 'restart', 'rebuild'].map((action) => html`
        <button data-action=${action} disabled=${!managed}
          title=${managed ? '' : 'an external plugin is not started or stopped by plugindev'}
          onClick=${() => act(action)}>${action}</button>`)}
      ${previewOrigin && html`<a class="preview-link" target="_blank" rel="noopener"
        href=${`${previewOrigin}/preview/${encodeURIComponent(state.pluginID)}`}>preview</a>`}
      ${result && html`<span data-testid="action-result" class=${result.ok === false ? 'failed' : 'done'}>
        ${result.text}</span>`}
    </div>`;
}

const ERROR_SOURCES = { go: 'go build', tsc: 'tsc' }; // what found an error (its `source`)

function Errors({ errors, linkTemplate }) {
  if (!errors?.length) return null;
  return html`
    <ul class="build-errors" data-testid="build-errors">
      ${errors.map((e) => html`
        <li data-testid="build-error" data-source=${e.source} class=${`severity-${e.severity}`}>
          <span class="severity">${e.severity}</span>
          <span class="source">${ERROR_SOURCES[e.source] ?? e.source}</span>
          ${e.file && html`<a href=${editorLink(linkTemplate, e)}>${e.file}:${e.line}:${e.column}</a>`}
          <span class="message">${e.message}</span>
        </li>`)}
    </ul>`;
}

function Card({ state, logs, errors, linkTemplate, previewOrigin, onState }) {
  const status = aggregateStatus(state);
  const built = state.lastBuildTime ? new Date(state.lastBuildTime).toLocaleTimeString() : '–';
  return html`
    <section class="card" data-testid="card" data-plugin=${state.pluginID} data-status=${status}>
      <header>
        <h2>${state.pluginID}</h2>
        <span class="chip" data-testid="chip" style=${{ background: COLOURS[status] }}>${status}</span>
        <span class="mode">${state.mode}</span>
      </header>
      <dl>
        <dt>Vite</dt><dd data-testid="vite-url">${state.viteURL
          ? html`<a href=${state.viteURL} target="_blank" rel="noopener">${state.viteURL}</a>` : state.viteStatus}</dd>
        <dt>pid</dt><dd data-testid="pid">${state.pid || '–'}</dd>
        <dt>gRPC</dt><dd data-testid="grpc">${state.grpcConnected ? 'healthy' : 'not connected'} (go ${state.goStatus})</dd>
        <dt>last build</dt><dd data-testid="last-build">${built}, ${duration(state.lastBuildDuration)}</dd>
        <dt>last error</dt><dd data-testid="last-error" class="last-error">${state.lastError || '–'}</dd>
      </dl>
      <${Controls} state=${state} previewOrigin=${previewOrigin} onState=${onState} />
      <${Errors} errors=${errors} linkTemplate=${linkTemplate} />
      <${LogView} logs=${logs} />
    </section>`;
}

/** plugindev's own lines: where it listens, the leftovers it ended, that it stops, its own errors. */
function SystemLog({ logs }) {
  return html`
    <section class="card system-log" data-testid="system-log">
      <header><h2>plugindev</h2></header>
      <${LogView} logs=${logs} />
    </section>`;
}

function AddPlugin({ onState }) {
  const [path, setPath] = useState('');
  const [message, setMessage] = useState('');
  const submit = async (event) => {
    event.preventDefault();
    try {
      onState(await call('POST', '/api/plugins', { path }));
      setMessage(`started ${path}`);
      setPath('');
    } catch (error) {
      setMessage(error.message);
    }
  };
  return html`
    <form class="add" onSubmit=${submit}>
      <input placeholder="plugin folder to start" value=${path} onInput=${(e) => setPath(e.currentTarget.value)} />
      <button type="submit">start</button>
      <span data-testid="add-result">${message}</span>
    </form>`;
}

const CONNECTION_TEXT = {
  connecting: 'connecting…',
  live: 'live',
  reconnecting: 'plugindev is not answering: reconnecting…',
  restarted: 'plugindev restarted: open the URL it printed',
};

function App({ store }) {
  const [, setVersion] = useState(0);
  const [linkTemplate, setLinkTemplate] = useState(localStorage.getItem(EDITOR_KEY) || DEFAULT_EDITOR_LINK);
  // the template being typed: the renders new log lines bring must not put the saved one back meanwhile
  const [linkDraft, setLinkDraft] = useState(null);
  useEffect(() => store.subscribe(setVersion), [store]);
  const saveTemplate = (value) => {
    setLinkTemplate(value);
    setLinkDraft(null);
    localStorage.setItem(EDITOR_KEY, value);
  };
  const onState = (state) => store.setStates([state]);
  const states = [...store.plugins.values()].sort((a, b) => a.pluginID.localeCompare(b.pluginID));
  return html`
    <header class="top">
      <h1>plugindev</h1>
      <span class=${`connection ${store.connection}`} data-testid="connection">${CONNECTION_TEXT[store.connection]}</span>
      <label>editor links <input data-testid="editor-link" size="36" value=${linkDraft ?? linkTemplate}
        onInput=${(e) => setLinkDraft(e.currentTarget.value)}
        onChange=${(e) => saveTemplate(e.currentTarget.value || DEFAULT_EDITOR_LINK)} /></label>
    </header>
    <${AddPlugin} onState=${onState} />
    ${states.length === 0 && html`<p class="empty">No plugin yet: start one with its folder above.</p>`}
    <main class="cards">
      ${states.map((state) => html`<${Card} key=${state.pluginID} state=${state} logs=${store.logsOf(state.pluginID)}
        errors=${store.errors.get(state.pluginID)} linkTemplate=${linkTemplate} previewOrigin=${store.previewOrigin}
        onState=${onState} />`)}
    </main>
    <${SystemLog} logs=${store.logsOf(SYSTEM_LOG)} />`;
}

async function main() {
  const store = new Store();
  window.__dashboard = store; // for tests and the curious
  render(html`<${App} store=${store} />`, document.getElementById('app'));
  if (new URLSearchParams(window.location.search).has('token')) {
    history.replaceState(null, '', window.location.pathname); // the cookie holds it now
  }
  try {
    store.setStates(await call('GET', '/api/plugins'));
  } catch {
    // the stream's own check says what is wrong
  }
  follow(store);
}

main();
