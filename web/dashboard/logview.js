// One plugin's log: filters (source, lowest level, text), follow/pause, and a virtualised list: only the rows in
// view (plus a few) are in the DOM, whatever the number of kept entries, so scrolling 5000 lines stays smooth.
import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';

const html = htm.bind(h);
export const ROW_HEIGHT = 18; // px, fixed: a row's position is its index times this
const OVERSCAN = 10;
const SOURCES = ['vite', 'tsc', 'go-build', 'go-watch', 'manager', 'plugin', 'system'];
const LEVELS = ['debug', 'info', 'warn', 'error'];

export function matches(entry, { source, level, text }) {
  return (source === 'all' || entry.source === source)
    && LEVELS.indexOf(entry.level) >= LEVELS.indexOf(level)
    && (!text || entry.message.toLowerCase().includes(text));
}

/** The entries that pass the filter; while only new lines arrive, only those are checked (a frame's worth). */
function useFiltered(logs, filter) {
  const cache = useRef(null);
  const key = `${filter.source}\n${filter.level}\n${filter.text}`;
  let last = cache.current;
  if (!last || last.key !== key || last.entries !== logs.entries || last.dropped !== logs.dropped) {
    last = cache.current = { key, entries: logs.entries, dropped: logs.dropped, checked: 0, shown: [] };
  }
  if (last.checked < logs.entries.length) {
    const added = logs.entries.slice(last.checked).filter((entry) => matches(entry, filter));
    if (added.length) last.shown = last.shown.concat(added); // a new array: effects see the change
    last.checked = logs.entries.length;
  }
  return last.shown;
}

export function LogView({ logs }) {
  const [source, setSource] = useState('all');
  const [level, setLevel] = useState('debug');
  const [search, setSearch] = useState('');
  const [following, setFollowing] = useState(true);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(300);
  const box = useRef(null);

  const text = search.trim().toLowerCase();
  const shown = useFiltered(logs, { source, level, text });

  useEffect(() => {
    const element = box.current;
    const observer = new ResizeObserver(() => setHeight(element.clientHeight));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  useEffect(() => {
    if (following) box.current.scrollTop = box.current.scrollHeight;
  }, [following, shown.length, logs.version]);

  const onScroll = (event) => {
    const element = event.currentTarget;
    setScrollTop(element.scrollTop);
    const atBottom = element.scrollTop + element.clientHeight >= element.scrollHeight - ROW_HEIGHT;
    if (following && !atBottom && event.isTrusted && element.dataset.userScroll === '1') setFollowing(false);
  };
  // a scroll the user makes (wheel, keys, drag) pauses following; our own scrolling to the end does not
  const userScroll = (event) => { event.currentTarget.dataset.userScroll = '1'; };
  const programmatic = (event) => { event.currentTarget.dataset.userScroll = '0'; };

  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(shown.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  const rows = shown.slice(first, last);

  return html`
    <div class="logs">
      <div class="log-tools">
        <select data-testid="filter-source" value=${source} onChange=${(e) => setSource(e.currentTarget.value)}>
          <option value="all">all sources</option>
          ${SOURCES.map((s) => html`<option value=${s}>${s}</option>`)}
        </select>
        <select data-testid="filter-level" value=${level} onChange=${(e) => setLevel(e.currentTarget.value)}>
          ${LEVELS.map((l) => html`<option value=${l}>${l} and above</option>`)}
        </select>
        <input data-testid="filter-search" type="search" placeholder="search" value=${search}
          onInput=${(e) => setSearch(e.currentTarget.value)} />
        <button data-testid="follow" aria-pressed=${following} onClick=${() => setFollowing(!following)}>
          ${following ? 'pause' : 'follow'}
        </button>
        <span class="log-count" data-testid="log-count">${shown.length} / ${logs.entries.length}</span>
      </div>
      <div class="log-box" ref=${box} onScroll=${onScroll} onWheel=${userScroll} onKeyDown=${userScroll}
        onPointerDown=${userScroll} onPointerUp=${programmatic} tabindex="0" data-testid="log-box">
        <div style=${{ height: `${shown.length * ROW_HEIGHT}px`, position: 'relative' }}>
          <div style=${{ transform: `translateY(${first * ROW_HEIGHT}px)` }}>
            ${rows.map((entry) => html`
              <div class=${`log-row level-${entry.level}`} data-testid="log-row" data-source=${entry.source}
                data-level=${entry.level} title=${entry.timestamp}>
                <span class="log-time">${entry.timestamp.slice(11, 23)}</span>
                <span class="log-source">${entry.source}</span>
                <span class="log-message">${entry.message}</span>
              </div>`)}
          </div>
        </div>
      </div>
    </div>`;
}
