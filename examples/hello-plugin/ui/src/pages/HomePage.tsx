import { useState } from 'react';

const TITLE = "Hello Plugin";
const pageStyle = { padding: 24, fontFamily: 'sans-serif' };

export default function HomePage() {
  const [count, setCount] = useState(0);
  return (
    <main data-testid="home-page" style={pageStyle}>
      <h1 data-testid="title">{TITLE}</h1>
      <p data-testid="hint">Edit ui/src/pages/HomePage.tsx and save: the page updates and the count stays.</p>
      <button data-testid="counter" type="button" onClick={() => setCount((n) => n + 1)}>
        Clicked {count} times
      </button>
    </main>
  );
}
