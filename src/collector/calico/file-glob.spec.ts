import { describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandGlob, hasGlob } from './file-glob.js';

describe('expandGlob', () => {
  it('expands *, ? and [] per segment, files only, sorted; plain paths pass through', async () => {
    const d = mkdtempSync(join(tmpdir(), 'glob-'));
    try {
      for (const n of ['a', 'b', 'c1']) mkdirSync(join(d, n));
      for (const p of ['a/flows.log', 'b/flows.log', 'c1/flows.log', 'a/flows.log.1', 'a/.hidden.log'])
        writeFileSync(join(d, p), '');
      mkdirSync(join(d, 'a', 'dir.log'));
      expect(await expandGlob(join(d, '*', 'flows.log'))).toEqual(['a', 'b', 'c1'].map((n) => join(d, n, 'flows.log')));
      expect(await expandGlob(join(d, '?', '*.log'))).toEqual([join(d, 'a', 'flows.log'), join(d, 'b', 'flows.log')]);
      expect(await expandGlob(join(d, '[ab]', 'flows.log*'))).toHaveLength(3);
      expect(await expandGlob(join(d, 'x', 'flows.log'))).toEqual([join(d, 'x', 'flows.log')]);
      expect(hasGlob('/var/log/calico/flowlogs/flows.log')).toBe(false);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
