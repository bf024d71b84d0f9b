/** The messenger app that runs inside the loader's iframe, served at /messenger/. */
import { defineConfig } from 'vite';
import { preactJsx, srcDir, staticDir, target } from './vite.shared.ts';

export default defineConfig({
  root: srcDir('messenger'),
  base: '/messenger/',
  publicDir: false,
  oxc: preactJsx,
  build: {
    outDir: staticDir('messenger'),
    emptyOutDir: true,
    target,
    assetsDir: 'assets',
    rollupOptions: { input: `${srcDir('messenger')}/frame.html` },
  },
});
