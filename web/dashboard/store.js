// What the dashboard knows: each plugin's state, its kept log entries (5000, as the server keeps), its last build
// errors, plugindev's own log (its messages and the lines of no one plugin, under SYSTEM_LOG), and the stream's
// connection. Changes are batched: a state change renders in the next animation frame, new log lines alone at most
// every LOG_RENDER_MS, so a burst (the replay of 10 × 5000 lines, or plugins that log a thousand lines a second)
// leaves most frames free instead of re-rendering every frame.

export const LOG_CAPACITY = 5000;
const LOG_RENDER_MS = 100;
const LOG_EVENT = 'plugin/devserver/log';
const STATUS_EVENT = 'plugin/devserver/status';
const ERROR_EVENT = 'plugin/devserver/error';
const SYSTEM_EVENT = 'plugindev/system'; // plugindev's own message: {tag, message}
export const EVENT_NAMES = [STATUS_EVENT, LOG_EVENT, ERROR_EVENT, SYSTEM_EVENT];
export const SYSTEM_LOG = ''; // the pluginID of plugindev's own log lines

/** A system message as a log entry of plugindev's own log (the event carries no time: none is shown). */
function systemEntry({ message }) {
  return { timestamp: '', source: 'system', level: 'info', message, pluginID: SYSTEM_LOG };
}

export class Store {
  constructor() {
    this.plugins = new Map(); // id -> state JSON
    this.logs = new Map(); // id -> { entries: [], version }
    // id -> [{file, line, column, message, severity, source}]: every source's (go build, tsc) current errors, as
    // the last error event says (an empty one once all are fixed)
    this.errors = new Map();
    this.connection = 'connecting'; // connecting | live | reconnecting | restarted
    this.previewOrigin = ''; // where previews run (not this page's origin: plugin code gets no API rights there)
    this.version = 0;
    this.listeners = new Set();
    this.scheduled = false;
    this.logTimer = null;
  }

  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changed() {
    this.version += 1;
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => this.notify());
  }

  logsChanged() {
    this.version += 1;
    if (this.scheduled || this.logTimer !== null) return;
    this.logTimer = setTimeout(() => this.changed(), LOG_RENDER_MS);
  }

  notify() {
    this.scheduled = false;
    clearTimeout(this.logTimer);
    this.logTimer = null;
    this.listeners.forEach((listener) => listener(this.version));
  }

  setStates(states) {
    for (const state of states) this.plugins.set(state.pluginID, state);
    this.changed();
  }

  // a snapshot of every plugin: those not in it are gone; those in it that the page lacks are added (the state
  // of the others is the stream's, which may already be newer than the snapshot)
  keepOnly(states) {
    const ids = new Set(states.map((state) => state.pluginID));
    for (const id of this.plugins.keys()) if (!ids.has(id)) this.plugins.delete(id);
    for (const state of states) if (!this.plugins.has(state.pluginID)) this.plugins.set(state.pluginID, state);
    this.changed();
  }

  setPreviewOrigin(origin) {
    if (this.previewOrigin === origin) return;
    this.previewOrigin = origin;
    this.changed();
  }

  setConnection(connection) {
    if (this.connection === connection) return;
    this.connection = connection;
    this.changed();
  }

  handle(name, data) {
    if (name === LOG_EVENT || name === SYSTEM_EVENT) {
      (name === LOG_EVENT ? data : [systemEntry(data)]).forEach((entry) => this.log(entry));
      this.logsChanged();
      return;
    }
    if (name === STATUS_EVENT) this.status(data);
    else if (name === ERROR_EVENT) this.errors.set(data.pluginID, data.errors);
    this.changed();
  }

  status(state) {
    this.plugins.set(state.pluginID, state);
  }

  log(entry) {
    let kept = this.logs.get(entry.pluginID);
    if (!kept) this.logs.set(entry.pluginID, (kept = { entries: [], version: 0, dropped: 0 }));
    kept.entries.push(entry);
    // trim in steps, not one shift per line: amortised O(1) while following a busy log
    if (kept.entries.length > LOG_CAPACITY + 500) this.trim(kept);
    kept.version += 1;
  }

  trim(kept) {
    const extra = kept.entries.length - LOG_CAPACITY;
    kept.entries.splice(0, extra);
    kept.dropped += extra; // a view that filtered the old entries starts over
  }

  logsOf(id) {
    const kept = this.logs.get(id);
    if (!kept) return { entries: [], version: 0, dropped: 0 };
    if (kept.entries.length > LOG_CAPACITY) this.trim(kept);
    return kept;
  }
}
