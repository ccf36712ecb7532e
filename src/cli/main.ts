#!/usr/bin/env node
import 'reflect-metadata';
import { Command } from 'commander';
import { version } from '../common/version.js';

type Register = (program: Command) => void;

/**
 * Each command's module, in the order help lists them. Only the command named on the command
 * line is loaded: loading every command pulls in the service's whole dependency tree (NestJS,
 * Kafka, gRPC, Swagger), about 1 s of CPU that `import` paid at every start.
 */
const COMMANDS: ReadonlyArray<readonly [string, () => Promise<Register>]> = [
  ['serve', async () => (await import('./serve.command.js')).registerServe],
  ['migrate', async () => (await import('./migrate.command.js')).registerMigrate],
  ['import', async () => (await import('./import.command.js')).registerImport],
  ['normalize', async () => (await import('./normalize.command.js')).registerNormalize],
  ['policy-test', async () => (await import('./policy-test.command.js')).registerPolicyTest],
  ['suggest', async () => (await import('./suggest.command.js')).registerSuggest],
  ['what-if', async () => (await import('./what-if.command.js')).registerWhatIf],
  ['db', async () => (await import('./db.command.js')).registerDb],
  ['demo', async () => (await import('./demo.command.js')).registerDemo],
];

const program = new Command('dropscope')
  .description('Watch Kubernetes network flows, find what network policy drops, and say which policy dropped it.')
  .version(version())
  .showHelpAfterError()
  .configureOutput({ outputError: (s, write) => write(`dropscope: ${s.replace(/^error: /, '')}`) });

// A known command first: only that one. Anything else (help, --version, a typo to suggest a
// command for): all of them, so help and the error messages are the same as ever.
const named = COMMANDS.filter(([name]) => name === process.argv[2]);
for (const [, load] of named.length > 0 ? named : COMMANDS) (await load())(program);

program.exitOverride((err) => {
  process.exit(err.exitCode === 1 ? 2 : err.exitCode);
});
await program.parseAsync(process.argv);
