// Pre-compresses the built front ends (brotli and gzip beside each file) so the server
// sends them as they are, chosen by Accept-Encoding. Run after the three `vite build`s.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const STATIC = fileURLToPath(new URL('../../src/pounce/static/', import.meta.url));
// Text the browser fetches; below 1 KiB a compressed copy saves less than its headers.
const TYPES = ['.js', '.css', '.html', '.svg', '.json', '.map'];
const MIN_BYTES = 1024;

function filesUnder(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

const encoders = {
  br: (data) =>
    brotliCompressSync(data, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
        [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
      },
    }),
  gz: (data) => gzipSync(data, { level: 9 }),
};

let written = 0;
for (const file of filesUnder(STATIC)) {
  if (!TYPES.some((t) => file.endsWith(t))) continue;
  const data = readFileSync(file);
  if (data.length < MIN_BYTES) continue;
  for (const [suffix, encode] of Object.entries(encoders)) {
    const packed = encode(data);
    // A copy that saves little is not worth a second representation.
    if (packed.length > data.length * 0.9) continue;
    writeFileSync(`${file}.${suffix}`, packed);
    written += 1;
  }
}
console.log(`compress: wrote ${written} pre-compressed files under ${STATIC}`);
