import type { Command } from 'commander';
import { runPolicyTestCli } from '../policy/policy-test.js';
import { exitWithError } from './cli-error.js';

export function registerPolicyTest(program: Command): void {
  program
    .command('policy-test')
    .description('evaluate Kubernetes NetworkPolicies offline: one probe, many probes, or a reachability matrix')
    .option(
      '--cluster <path>',
      'manifests (file or folder; kubectl get ns,pods,networkpolicies -A -o yaml); repeatable',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option('--from <endpoint>', 'source: NS/POD or an IP')
    .option('--to <endpoint>', 'destination: NS/POD or an IP')
    .option('--port <port>', "destination port: a number, or a name resolved on the destination pod's container ports")
    .option('--protocol <protocol>', 'TCP|UDP|SCTP', 'TCP')
    .option(
      '--probes <file>',
      'JSON lines of {"from","to","port","protocol","expected"}; bad lines reported, the rest evaluated',
    )
    .option('--output <format>', 'table|json (default: table on a terminal, json otherwise)')
    .option('--expect <verdict>', 'allow|deny: exit 1 when a probe disagrees (default for probes without "expected")')
    .option('--matrix', 'print the reachability table of all pods for --port/--protocol')
    .option(
      '--namespace <ns>',
      'limit the matrix to these namespaces; repeatable',
      (v: string, p: string[]) => [...p, v],
      [] as string[],
    )
    .action(
      async (opts: {
        cluster: string[];
        from?: string;
        to?: string;
        port?: string;
        protocol?: string;
        probes?: string;
        matrix?: boolean;
        namespace: string[];
        output?: string;
        expect?: string;
      }) => {
        try {
          process.exitCode = await runPolicyTestCli(
            { ...opts, namespaces: opts.namespace.length > 0 ? opts.namespace : undefined },
            {
              stdout: (s) => process.stdout.write(s),
              stderr: (s) => process.stderr.write(s),
              isTTY: process.stdout.isTTY === true,
            },
          );
        } catch (e) {
          exitWithError(e);
        }
      },
    );
}
