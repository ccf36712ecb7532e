import { readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve, sep } from 'node:path';

/** True when the path holds glob characters (`*`, `?`, `[`). */
export function hasGlob(p: string): boolean {
  return /[*?[]/.test(p);
}

function segmentRegExp(seg: string): RegExp {
  let re = '^';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = seg.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        let body = seg.slice(i + 1, end);
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`${re}$`);
}

/**
 * Expands a file path with `*`, `?` and `[...]` in any segment (no `**`) to the matching regular
 * files, sorted. Dot-files match only when the pattern segment starts with a dot. A path without
 * glob characters is returned as is (absolute), whether or not it exists yet.
 */
export async function expandGlob(pattern: string): Promise<string[]> {
  const abs = isAbsolute(pattern) ? pattern : resolve(pattern);
  if (!hasGlob(abs)) return [abs];
  const segs = abs.split(sep).filter((s, i) => s !== '' || i === 0);
  let dirs = [segs[0] === '' ? sep : segs[0]];
  const out: string[] = [];
  for (let i = 1; i < segs.length; i++) {
    const seg = segs[i];
    const last = i === segs.length - 1;
    const next: string[] = [];
    for (const dir of dirs) {
      if (!hasGlob(seg)) {
        next.push(join(dir, seg));
        continue;
      }
      let entries: string[];
      try {
        entries = await readdir(dir);
      } catch {
        continue;
      }
      const re = segmentRegExp(seg);
      for (const e of entries) if (re.test(e) && (seg.startsWith('.') || !e.startsWith('.'))) next.push(join(dir, e));
    }
    dirs = next;
    if (last) {
      for (const p of next) {
        try {
          if ((await stat(p)).isFile()) out.push(p);
        } catch {
          // vanished between readdir and stat
        }
      }
    }
  }
  return out.sort();
}
