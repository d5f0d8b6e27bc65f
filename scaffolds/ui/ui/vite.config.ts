import { defineConfig, loadEnv } from 'vite';
import react from '@vitejs/plugin-react';
import { omniviewExternals } from '@omniviewdev/vite-plugin';

// The IDE loads this UI from the Vite dev server (plugindev passes --port N --strictPort) and, in
// production, as the SystemJS bundle assets/entry.js. Shared dependencies (React, MUI, the host's
// @omniviewdev packages...) come from the host in both cases: omniviewExternals() does that.
// 127.0.0.1, never localhost: the IDE's webview resolves localhost badly.
// CORS: only the IDE and plugindev's preview may read this server's modules (with every origin, or every local
// port, let in, any page could read the plugin's source). The IDE is a Wails app: wails://wails (macOS, Linux),
// http://wails.localhost (Windows), http://localhost:34115 (`wails dev` in a browser). The preview's port
// changes per run: the plugindev that starts Vite names it in PLUGINDEV_CORS_ORIGINS (space-separated: add a
// page of your own there).
const IDE_ORIGINS = ['wails://wails', 'wails://wails.localhost', 'http://wails.localhost', 'http://localhost:34115'];

export default defineConfig(({ mode }) => ({
  plugins: [react(), omniviewExternals()],
  server: {
    host: '127.0.0.1',
    cors: {
      origin: [...IDE_ORIGINS, ...(loadEnv(mode, '.', 'PLUGINDEV_').PLUGINDEV_CORS_ORIGINS ?? '').split(/\s+/)]
        .filter(Boolean),
    },
    hmr: { protocol: 'ws', host: '127.0.0.1' },
  },
  build: {
    cssCodeSplit: false,
    sourcemap: true,
    rollupOptions: {
      input: 'src/entry.ts',
      output: {
        entryFileNames: 'assets/entry.js',
        chunkFileNames: 'assets/[name].js',
        assetFileNames: 'assets/[name].[ext]',
        // Vite 8's Rolldown has no SystemJS output, hence no 'system' in its types: omniviewExternals()
        // builds ES modules and turns them into System.register (Vite 5's Rollup writes it itself).
        format: 'system' as never,
      },
      preserveEntrySignatures: 'exports-only',
    },
  },
}));
