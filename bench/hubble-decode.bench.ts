/**
 * The Hubble Relay collector's per-flow work before the bus, on its own: a GetFlowsResponse as
 * gRPC hands it over (the bytes `npm run load` sends) decoded and mapped to a FlowRecord, with
 * proto-loader's decoder (every field, protobufjs messages converted to plain objects) and with
 * the collector's own (src/collector/hubble/hubble-flow.decoder.ts). CPU µs per flow, the two
 * alternated over several rounds, minimum and median. Runnable alone:
 *   npx tsc -p tsconfig.build.json && node dist/bench/hubble-decode.bench.js [--flows N] [--rounds N]
 */
import type { ServiceDefinition } from '@grpc/proto-loader';
import { observerPackageWithFastFlows } from '../src/collector/hubble/hubble-flow.decoder.js';
import { mapGetFlowsResponse } from '../src/collector/hubble/hubble-flow.mapper.js';
import { loadObserverPackage } from '../src/collector/hubble/hubble-proto.js';
import { HubbleFlowEncoder } from './load-hubble-flows.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const FLOWS = option('--flows', 20_000);
const ROUNDS = option('--rounds', 7);

const encoder = new HubbleFlowEncoder();
const base = Math.floor(Date.now() / 1000);
const messages: Buffer[] = [];
// 1,000 flows a second, as at the load driver's middle steps: the date part repeats.
for (let i = 0; i < FLOWS; i++) messages.push(encoder.encode(i, base + Math.floor(i / 1000), (i % 1000) * 1e6 + 17));

const deserializer = (pkg: ReturnType<typeof loadObserverPackage>): ((b: Buffer) => object) =>
  (pkg['observer.Observer'] as ServiceDefinition).GetFlows.responseDeserialize;
const decoders: Record<string, (b: Buffer) => object> = {
  'proto-loader': deserializer(loadObserverPackage()),
  collector: deserializer(observerPackageWithFastFlows()),
};

const samples: Record<string, number[]> = {};
for (let round = 0; round <= ROUNDS; round++) {
  for (const [name, decode] of Object.entries(decoders)) {
    const t0 = process.cpuUsage();
    for (const m of messages) mapGetFlowsResponse(decode(m));
    const used = process.cpuUsage(t0);
    // round 0 warms up (V8 compiles the hot paths)
    if (round > 0) (samples[name] ??= []).push((used.user + used.system) / FLOWS);
  }
}
console.log(`decode + map, ${FLOWS} flows per round, ${ROUNDS} rounds alternated (CPU µs per flow)`);
for (const [name, s] of Object.entries(samples)) {
  const sorted = [...s].sort((a, b) => a - b);
  console.log(
    `${name.padEnd(13)} min ${sorted[0].toFixed(2)}  median ${sorted[Math.floor(sorted.length / 2)].toFixed(2)}  max ${sorted[sorted.length - 1].toFixed(2)}`,
  );
}
