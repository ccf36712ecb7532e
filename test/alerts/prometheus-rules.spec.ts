import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const RULES = join(import.meta.dirname, '..', '..', 'deploy', 'prometheus', 'rules', 'dropscope.rules.yml');

describe('deploy/prometheus alert rules', () => {
  it('pass `promtool check rules` (promtool is required: .ci/run installs Debian prometheus)', () => {
    const r = spawnSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
    if (r.error)
      throw new Error(
        `promtool is not installed (${r.error.message}); install Debian's prometheus package: apt-get install prometheus`,
      );
    expect({ status: r.status, output: `${r.stdout}${r.stderr}` }).toEqual({
      status: 0,
      output: expect.stringMatching(/SUCCESS: \d+ rules found/),
    });
  });
});
