// One word (and its colour) for a plugin's dev-server state, as the IDE's dev-server view shows it (SPEC §6).
// Mirrors orchestrator/diagnose/aggregate.py; tests/test_dashboard.py checks both on one table.

export const COLOURS = {
  ready: '#3fb950',
  building: '#d29922',
  error: '#f85149',
  stopped: '#8b949e',
  connecting: '#58a6ff',
};

/** The rule of the IDE's view, in its order: the first that applies wins. */
export function aggregateStatus(state) {
  const { viteStatus: vite, goStatus: go } = state;
  const connected = Boolean(state.grpcConnected);
  if (vite === 'error' || go === 'error') return 'error';
  if (go === 'building' || vite === 'starting') return 'building';
  if (vite === 'stopped' && !connected) return 'stopped';
  if (!connected) return 'connecting';
  return 'ready';
}
