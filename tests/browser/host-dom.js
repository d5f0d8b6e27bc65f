// ReactDOM for the test host page, only ever loaded by host.js through a dynamic import(): its module body
// (and so ReactDOM's registration with the React DevTools hook) runs after Fast Refresh installed the hook.
// `export * as` gives real module-like objects with named exports (a dynamic import of a CommonJS package
// alone would only carry `default`).
export * as ReactDOM from 'react-dom';
export * as ReactDOMClient from 'react-dom/client';
