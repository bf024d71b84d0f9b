import { defineConfig } from 'vitest/config';
import { preactJsx } from './vite.shared.ts';

export default defineConfig({
  oxc: preactJsx,
  test: { include: ['tests/**/*.test.ts'], environment: 'node' },
});
