/**
 * What a driver started (server processes, PostgreSQL, temporary folders), stopped in reverse
 * order when it ends normally AND when it is told to stop: SIGINT, SIGTERM or SIGHUP run the same
 * steps, then exit with 128 + the signal number. A second signal while stopping kills what is
 * left at once (each step may give a synchronous `force`) and exits. Without this a killed driver
 * left its `serve` children and PostgreSQL running. Children that no step covers yet (a signal
 * during start-up) get SIGINT, then SIGKILL, on the way out. SIGKILL cannot be caught: children that watch
 * their stdin (the Kafka mock cluster) still end, the others do not.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';

/** PIDs of this process's live children, from /proc (Linux); empty elsewhere. */
function liveChildren(): number[] {
  const out: number[] = [];
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === process.pid && state !== 'Z') out.push(Number(name));
    } catch {
      // it ended while we looked
    }
  }
  return out;
}

interface Step {
  name: string;
  stop: () => Promise<void>;
  force?: () => void;
}

function signalAll(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids)
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
}

/**
 * A child started after the last registered step (a signal during start-up) has no step of its
 * own: SIGINT (PostgreSQL's fast shutdown), then SIGKILL for what is left after `graceMs`.
 */
async function endStrayChildren(graceMs = 10_000): Promise<void> {
  signalAll(liveChildren(), 'SIGINT');
  const end = Date.now() + graceMs;
  while (liveChildren().length > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  signalAll(liveChildren(), 'SIGKILL');
}

export class Teardown {
  private readonly steps: Step[] = [];
  private readonly finals: Step[] = [];
  private running?: Promise<void>;
  /** The signal that started the teardown, if one did. */
  signal?: NodeJS.Signals;

  /** Registers a step; steps run last registered first. */
  add(name: string, stop: () => Promise<void>, force?: () => void): void {
    this.steps.push({ name, stop, force });
  }

  /** Registers a step that runs after every process has ended (removing the folders they wrote in). */
  addFinal(name: string, stop: () => Promise<void>): void {
    this.finals.push({ name, stop });
  }

  /**
   * Runs every step once (later calls return the same promise), then ends stray children, then
   * runs the final steps. A failing step does not stop the others.
   */
  run(): Promise<void> {
    this.running ??= (async () => {
      const runAll = async (steps: Step[]) => {
        for (const step of steps)
          try {
            await step.stop();
          } catch (e) {
            process.stderr.write(`teardown: ${step.name}: ${e instanceof Error ? e.message : String(e)}\n`);
          }
      };
      await runAll([...this.steps].reverse());
      await endStrayChildren();
      await runAll(this.finals);
    })();
    return this.running;
  }

  /** Installs the signal handlers (once per process). */
  exitOnSignals(signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']): void {
    for (const sig of signals)
      process.on(sig, () => {
        const code = 128 + constants.signals[sig];
        if (this.signal) {
          for (const step of this.steps)
            try {
              step.force?.();
            } catch {
              // already gone
            }
          process.exit(code);
        }
        this.signal = sig;
        process.stderr.write(`\n${sig}: stopping what this run started\n`);
        void this.run().finally(() => process.exit(code));
      });
  }
}
