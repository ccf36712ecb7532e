import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { createLogger } from './pino-logger.js';

function capture(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(
        ...chunk
          .toString('utf8')
          .split('\n')
          .filter((l) => l !== ''),
      );
      done();
    },
  });
  return { stream, lines };
}

/** Every top-level key of a JSON object line, in order, read from the raw text (JSON.parse would hide repeats). */
function topLevelKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      let j = i + 1;
      while (line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      if (depth === 1 && line[j + 1] === ':') keys.push(line.slice(i + 1, j));
      i = j;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return keys;
}

describe('createLogger', () => {
  it('writes each key once when a child re-binds a key and a call repeats it; the innermost value wins', async () => {
    const { stream, lines } = capture();
    const root = createLogger('info', stream);
    const log = root.child({ component: 'policy-inventory' }).child({ component: 'kubernetes-watch', zone: 'a' });
    log.info('watching', { zone: 'b', objects: 3 });
    root.child({ component: 'api' }).warn('slow', { service: 'other' });
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      const keys = topLevelKeys(line);
      expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([]);
    }
    expect(JSON.parse(lines[0])).toMatchObject({
      service: 'dropscope',
      component: 'kubernetes-watch',
      zone: 'b',
      objects: 3,
      msg: 'watching',
    });
    expect(JSON.parse(lines[1])).toMatchObject({ component: 'api', service: 'other', msg: 'slow' });
  });

  it('still redacts secrets in bound fields and call fields', async () => {
    const { stream, lines } = capture();
    createLogger('info', stream)
      .child({ token: 'secret-1' })
      .info('x', { auth: { password: 'secret-2' } });
    await new Promise((r) => setImmediate(r));
    expect(lines[0]).not.toContain('secret-1');
    expect(lines[0]).not.toContain('secret-2');
  });

  it('redacts secret fields at any depth, in arrays, whatever their case, on bound and call fields', async () => {
    const { stream, lines } = capture();
    const log = createLogger('info', stream).child({ kafka: { sasl: { mechanism: 'plain', password: 'secret-a' } } });
    log.info('connecting', {
      request: { headers: { Authorization: 'Bearer secret-b', accept: 'application/json' } },
      config: {
        database: { url: 'postgres://u:secret-c@db/x' },
        alerting: { slack: { webhookUrl: 'https://h/secret-d' } },
      },
      receivers: [{ name: 'ops', token: 'secret-e' }],
      deep: { a: { b: { c: { d: { apiKey: 'secret-f', clientSecret: 'secret-g' } } } } },
    });
    log.error('failed', { err: { cause: { headers: { cookie: 'session=secret-h' } } } });
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(2);
    for (const secret of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) {
      expect(lines[0] + lines[1]).not.toContain(`secret-${secret}`);
    }
    // What is not a secret stays, and the structure is kept.
    expect(JSON.parse(lines[0])).toMatchObject({
      kafka: { sasl: { mechanism: 'plain', password: '[redacted]' } },
      request: { headers: { Authorization: '[redacted]', accept: 'application/json' } },
      receivers: [{ name: 'ops', token: '[redacted]' }],
      msg: 'connecting',
    });
  });

  it('writes Error objects and cyclic fields without failing', async () => {
    const { stream, lines } = capture();
    const cyclic: Record<string, unknown> = { name: 'loop', password: 'secret-z' };
    cyclic.self = cyclic;
    createLogger('info', stream).warn('odd fields', { cyclic, error: new Error('boom') });
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('secret-z');
    expect(lines[0]).toContain('loop');
  });
});
