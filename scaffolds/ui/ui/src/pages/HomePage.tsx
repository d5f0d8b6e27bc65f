import { useState } from 'react';
import { usePluginContext } from '@omniviewdev/runtime';

const pageStyle = { padding: 24, fontFamily: 'sans-serif' };

export default function HomePage() {
  // what the IDE knows of this plugin: plugin.yaml (meta) and the values of its settings
  const { meta } = usePluginContext();
  const [count, setCount] = useState(0);
  return (
    <main data-testid="home-page" style={pageStyle}>
      <h1 data-testid="title">{meta.name}</h1>
      <p data-testid="meta">{meta.id} {meta.version}</p>
      <p data-testid="hint">Edit ui/src/pages/HomePage.tsx and save: the page updates and the count stays.</p>
      <button data-testid="counter" type="button" onClick={() => setCount((n) => n + 1)}>
        Clicked {count} times
      </button>
    </main>
  );
}
