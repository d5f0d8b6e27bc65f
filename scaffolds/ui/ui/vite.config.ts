import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { omniviewExternals } from '@omniviewdev/vite-plugin';

// The IDE loads this UI from the Vite dev server (plugindev passes --port N --strictPort) and, in
// production, as the SystemJS bundle assets/entry.js. Shared dependencies (React, MUI, the host's
// @omniviewdev packages...) come from the host in both cases: omniviewExternals() does that.
// 127.0.0.1, never localhost: the IDE's webview resolves localhost badly.
export default defineConfig({
  plugins: [react(), omniviewExternals()],
  server: {
    host: '127.0.0.1',
    cors: true,
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
});
