/** Throwaway CA, server and client certificates made with the openssl CLI, for TLS/mTLS tests. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCerts {
  dir: string;
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  read(file: string): Buffer;
  /** Removes `dir` and the files in it: call it once nothing reads them any more. */
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

/**
 * CA `test-ca`; a server cert for `serverNames` (default relay.test) plus localhost and 127.0.0.1;
 * client cert `dropscope`.
 */
export function makeTestCerts(serverNames: string[] = ['relay.test']): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'dropscope-tls-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=test-ca'], dir);
  const sans = [...serverNames, 'localhost'].map((n) => `DNS:${n}`).join(',');
  writeFileSync(join(dir, 'server.ext'), `subjectAltName=${sans},IP:127.0.0.1\nextendedKeyUsage=serverAuth\n`);
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, subj] of [
    ['server', `/CN=${serverNames[0]}`],
    ['client', '/CN=dropscope'],
  ] as const) {
    openssl(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj], dir);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `${name}.crt`,
        '-days',
        '2',
        '-extfile',
        `${name}.ext`,
      ],
      dir,
    );
  }
  return {
    dir,
    caFile: join(dir, 'ca.crt'),
    serverCertFile: join(dir, 'server.crt'),
    serverKeyFile: join(dir, 'server.key'),
    clientCertFile: join(dir, 'client.crt'),
    clientKeyFile: join(dir, 'client.key'),
    read: (file: string) => readFileSync(file),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
