/** Settings shared by the three builds: output lives in the Python package's static folder. */
import { fileURLToPath } from 'node:url';
import type { UserConfig } from 'vite';

export const staticDir = (name: string): string =>
  fileURLToPath(new URL(`../src/pounce/static/${name}`, import.meta.url));

export const srcDir = (name: string): string =>
  fileURLToPath(new URL(`./src/${name}`, import.meta.url));

// Preact through Vite's built-in Oxc transform: no framework plugin needed.
export const preactJsx: UserConfig['oxc'] = {
  jsx: { runtime: 'automatic', importSource: 'preact' },
};

export const target = ['es2020', 'safari14'];
