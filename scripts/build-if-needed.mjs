// Builds dist/ when it is missing or older than any source file, so `npm start` works on a fresh clone.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const marker = 'dist/src/cli/main.js';
function newest(dir) {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}
const srcTime = Math.max(newest('src'), newest('migrations'), newest('bench'), statSync('tsconfig.json').mtimeMs);
if (!existsSync(marker) || statSync(marker).mtimeMs < srcTime) {
  process.stderr.write('dropscope: building (tsc)...\n');
  execSync('npx tsc -p tsconfig.build.json', { stdio: 'inherit' });
}
