import { describe, expect, it } from '@jest/globals';
import { runCli } from '../support/cli.js';

// main.ts loads only the command named on the command line; help and errors still see them all.
describe('dropscope command loading', () => {
  it('lists every command in help, in their order', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    const names = [...r.stdout.matchAll(/^ {2}([a-z-]+)[ [<]/gm)].map((m) => m[1]);
    expect(names).toEqual([
      'serve',
      'migrate',
      'import',
      'normalize',
      'policy-test',
      'suggest',
      'what-if',
      'db',
      'demo',
      'help',
    ]);
  });

  it('suggests the command meant for a misspelt one', async () => {
    const r = await runCli(['improt', 'x.json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'improt'");
    expect(r.stderr).toContain('Did you mean import?');
  });

  it('runs a command given first, with its own help', async () => {
    const r = await runCli(['import', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: dropscope import \[options\] <files\.\.\.>/);
    const h = await runCli(['help', 'what-if']);
    expect(h.stdout).toMatch(/^Usage: dropscope what-if/);
  });
});
