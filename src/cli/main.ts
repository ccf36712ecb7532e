#!/usr/bin/env node
import 'reflect-metadata';
import { Command } from 'commander';
import { version } from '../common/version.js';
import { registerDb } from './db.command.js';
import { registerDemo } from './demo.command.js';
import { registerImport } from './import.command.js';
import { registerMigrate } from './migrate.command.js';
import { registerNormalize } from './normalize.command.js';
import { registerPolicyTest } from './policy-test.command.js';
import { registerServe } from './serve.command.js';
import { registerSuggest } from './suggest.command.js';
import { registerWhatIf } from './what-if.command.js';

const program = new Command('dropscope')
  .description('Watch Kubernetes network flows, find what network policy drops, and say which policy dropped it.')
  .version(version())
  .showHelpAfterError()
  .configureOutput({ outputError: (s, write) => write(`dropscope: ${s.replace(/^error: /, '')}`) });

registerServe(program);
registerMigrate(program);
registerImport(program);
registerNormalize(program);
registerPolicyTest(program);
registerSuggest(program);
registerWhatIf(program);
registerDb(program);
registerDemo(program);

program.exitOverride((err) => {
  process.exit(err.exitCode === 1 ? 2 : err.exitCode);
});
await program.parseAsync(process.argv);
