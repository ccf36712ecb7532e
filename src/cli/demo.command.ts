import type { Command } from 'commander';
import { runDemo } from '../demo/demo.js';
import { exitWithError, UsageError } from './cli-error.js';

interface DemoCliOptions {
  duration?: string;
  untilComplete?: boolean;
  port: string;
  dataDir: string;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'a simulated default-deny cluster through the whole pipeline: drops, attribution, an alert, the suggested fix',
    )
    .option('--duration <seconds>', 'stop after this many seconds (default: run until interrupted)')
    .option('--until-complete', 'with --duration: stop as soon as drops, attribution, alert and suggestion appeared')
    .option('--port <port>', 'HTTP port of the API and /metrics', '8080')
    .option('--data-dir <dir>', 'where the demo keeps its database, manifests and flow log', './.dropscope-demo')
    .action(async (opts: DemoCliOptions) => {
      try {
        let durationSeconds: number | undefined;
        if (opts.duration !== undefined) {
          if (!/^\d+$/.test(opts.duration) || Number(opts.duration) < 1)
            throw new UsageError(
              `--duration must be a whole number of seconds >= 1, got ${JSON.stringify(opts.duration)}`,
            );
          durationSeconds = Number(opts.duration);
        }
        if (opts.untilComplete && durationSeconds === undefined)
          throw new UsageError('--until-complete needs --duration (the longest the demo may take)');
        if (!/^\d+$/.test(opts.port) || Number(opts.port) > 65535)
          throw new UsageError(`--port must be an integer from 0 to 65535, got ${JSON.stringify(opts.port)}`);
        const stop = new AbortController();
        process.on('SIGINT', () => stop.abort());
        process.on('SIGTERM', () => stop.abort());
        const checklist = await runDemo({
          durationSeconds,
          untilComplete: opts.untilComplete === true,
          port: Number(opts.port),
          dataDir: opts.dataDir,
          write: (t) => process.stdout.write(t),
          signal: stop.signal,
        });
        // Interrupted runs end well whatever appeared; a bounded run must have shown all four.
        const complete = Object.values(checklist).every(Boolean);
        process.exit(durationSeconds !== undefined && !stop.signal.aborted && !complete ? 1 : 0);
      } catch (e) {
        exitWithError(e);
      }
    });
}
