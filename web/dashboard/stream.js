// The event stream, kept open. While plugindev is away the browser's EventSource retries by itself and sends
// Last-Event-ID, so the server resumes after the last event seen; a restarted plugindev keeps its port and token,
// and its event ids are larger than the last one's, so the page resumes with everything it kept. If the answer
// is not a stream any more (the cookie's token is not the running plugindev's: it has a new one), the page says
// so instead of retrying forever.
import { EVENT_NAMES } from './store.js';

const RETRY_MS = 1000;

export function follow(store) {
  let lastId = 0;
  let source = null;

  function open() {
    // a new EventSource starts without Last-Event-ID: the query says where to resume
    source = new EventSource(lastId ? `/api/events?lastEventId=${lastId}` : '/api/events');
    source.onopen = () => {
      // after a drop: plugins the (maybe restarted) plugindev no longer has go; the replay brings the rest
      if (store.connection !== 'connecting') refreshPlugins();
      refreshPreviewOrigin(); // a restarted plugindev previews on another port
      store.setConnection('live');
    };
    source.onerror = () => {
      if (source.readyState === EventSource.CONNECTING) {
        store.setConnection('reconnecting');
        return;
      }
      source.close();
      whyClosed();
    };
    for (const name of EVENT_NAMES) {
      source.addEventListener(name, (event) => {
        const id = Number(event.lastEventId);
        if (id <= lastId) return; // already seen (a replay overlapping what came live)
        lastId = id;
        store.handle(name, JSON.parse(event.data));
      });
    }
  }

  async function refreshPlugins() {
    const response = await fetch('/api/plugins', { credentials: 'same-origin' }).catch(() => null);
    if (response?.ok) store.keepOnly(await response.json());
  }

  async function refreshPreviewOrigin() {
    const response = await fetch('/api/preview', { credentials: 'same-origin' }).catch(() => null);
    if (response?.ok) store.setPreviewOrigin((await response.json()).url);
  }

  async function whyClosed() {
    try {
      const response = await fetch('/api/plugins', { credentials: 'same-origin' });
      if (response.status === 401) {
        store.setConnection('restarted');
        return;
      }
      if (response.ok) store.setStates(await response.json());
    } catch {
      // not answering yet: try again
    }
    store.setConnection('reconnecting');
    setTimeout(open, RETRY_MS);
  }

  open();
  return () => source?.close();
}
