/** The embed loader: one self-contained IIFE, no hash, so sites can paste a stable URL. */
import { defineConfig } from 'vite';
import { srcDir, staticDir, target } from './vite.shared.ts';

export default defineConfig({
  publicDir: false,
  build: {
    outDir: staticDir('loader'),
    emptyOutDir: true,
    target,
    lib: {
      entry: `${srcDir('loader')}/loader.ts`,
      formats: ['iife'],
      name: 'PounceLoader',
      fileName: () => 'loader.js',
    },
  },
});
