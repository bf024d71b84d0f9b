/** The rep console single-page app, served at /app/. */
import { defineConfig } from 'vite';
import { preactJsx, srcDir, staticDir, target } from './vite.shared.ts';

export default defineConfig({
  root: srcDir('console'),
  base: '/app/',
  publicDir: false,
  oxc: preactJsx,
  build: {
    outDir: staticDir('console'),
    emptyOutDir: true,
    target,
    assetsDir: 'assets',
    rollupOptions: { input: `${srcDir('console')}/index.html` },
  },
  server: {
    // `npm run dev:console` against a local server on :8000.
    proxy: {
      '/api': 'http://127.0.0.1:8000',
      '/ws': { target: 'ws://127.0.0.1:8000', ws: true },
    },
  },
});
