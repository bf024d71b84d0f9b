// Size budgets of the built front-ends (gzipped). Run after `npm run build`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const STATIC = fileURLToPath(new URL('../../src/pounce/static/', import.meta.url));
const KB = 1024;

const gz = (file) => gzipSync(readFileSync(file), { level: 9 }).length;

function filesUnder(dir, exts) {
  let out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(filesUnder(p, exts));
    else if (exts.some((e) => name.endsWith(e))) out.push(p);
  }
  return out;
}

function measure(label, dir, exts, budget) {
  let files;
  try {
    files = filesUnder(join(STATIC, dir), exts);
  } catch {
    console.error(`✗ ${label}: ${join(STATIC, dir)} is missing — run \`npm run build\` first`);
    return false;
  }
  if (files.length === 0) {
    console.error(`✗ ${label}: no ${exts.join('/')} files in ${dir} — run \`npm run build\` first`);
    return false;
  }
  const size = files.reduce((n, f) => n + gz(f), 0);
  const ok = size <= budget;
  const limit = Number.isFinite(budget) ? `budget ${(budget / KB).toFixed(0)} KB` : 'no budget';
  console.log(`${ok ? '✓' : '✗'} ${label}: ${(size / KB).toFixed(2)} KB gzipped (${limit}, ${files.length} file${files.length > 1 ? 's' : ''})`);
  return ok;
}

const results = [
  measure('loader', 'loader', ['loader.js'], 3 * KB),
  measure('messenger JS+CSS', 'messenger', ['.js', '.css'], 35 * KB),
  measure('console JS+CSS', 'console', ['.js', '.css'], Infinity),
];
if (results.includes(false)) {
  console.error('Size budget exceeded.');
  process.exit(1);
}
