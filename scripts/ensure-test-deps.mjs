// Before `npm test`: the Kafka tests need librdkafka1 (its mock cluster is the test broker) and
// the gRPC TLS tests need openssl, and the alert-rule test needs promtool (Debian's prometheus). Installs them with apt-get when running as root on Debian,
// otherwise stops with the command to run. Never skips silently.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const libs = ['/usr/lib/x86_64-linux-gnu/librdkafka.so.1', '/usr/lib/aarch64-linux-gnu/librdkafka.so.1'];
const need = [];
if (!process.env.LIBRDKAFKA_PATH && !libs.some((p) => existsSync(p))) need.push('librdkafka1');
try {
  execSync('openssl version', { stdio: 'ignore' });
} catch {
  need.push('openssl');
}
try {
  execSync('promtool --version', { stdio: 'ignore' });
} catch {
  need.push('prometheus');
}
if (need.length > 0) {
  const cmd = `apt-get update && apt-get install -y --no-install-recommends ${need.join(' ')}`;
  const root = process.getuid?.() === 0;
  if (!root || !existsSync('/usr/bin/apt-get')) {
    process.stderr.write(`npm test needs ${need.join(', ')}: run \`sudo sh -c '${cmd}'\` (or set LIBRDKAFKA_PATH)\n`);
    process.exit(1);
  }
  process.stderr.write(`installing test dependencies: ${need.join(' ')}\n`);
  execSync(cmd, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}
