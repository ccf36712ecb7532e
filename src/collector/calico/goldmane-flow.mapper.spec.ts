import { describe, expect, it } from '@jest/globals';
import { validateFlowRecord } from '../../flow/flow-record.validator.js';
import { CalicoFlowLogGenerator } from '../../synthetic/calico-flow-log.generator.js';
import { CalicoLineMapper } from './calico-flow-log.mapper.js';
import { GoldmaneFlowMapper, type GoldmaneFlow } from './goldmane-flow.mapper.js';

describe('GoldmaneFlowMapper', () => {
  it('reads the emitter NDJSON form: integer enums, omitted zero values, staged pending deny -> audit', () => {
    // Go encoding/json of proto.Flow: enums as numbers, policy_index 0 / reporter omitted.
    const line =
      '{"Key":{"source_name":"pvt","source_type":4,"dest_name":"web-5f7c9d8b6d-*","dest_namespace":"shop",' +
      '"dest_type":1,"dest_port":443,"proto":"tcp","reporter":2,"action":1,"policies":{"enforced_policies":' +
      '[{"kind":9,"name":"kns.shop","action":1}],"pending_policies":[{"kind":5,"namespace":"shop",' +
      '"name":"knp.default.lockdown","tier":"default","action":2,"rule_index":-1}]}},' +
      '"start_time":1750000000,"end_time":1750000015,"packets_in":3,"bytes_in":180,"num_connections_live":1}';
    const res = new GoldmaneFlowMapper({ cluster: 'c1' }).map(JSON.parse(line) as GoldmaneFlow);
    const r = validateFlowRecord(res.record);
    expect(r).toMatchObject({
      cluster: 'c1',
      verdict: 'audit',
      dropReason: 'PENDING_POLICY_DENY',
      direction: 'ingress',
      reporter: 'dst',
      dstPort: 443,
      packets: 3,
      bytes: 180,
      count: 1,
      src: { kind: 'network', nameAggr: 'pvt' },
      dst: { kind: 'pod', namespace: 'shop', workload: { kind: 'Deployment', name: 'web' } },
    });
    expect(r.policies).toEqual([
      { kind: 'Profile', name: 'kns.shop', action: 'allow', ruleIndex: 0, stage: 'enforced' },
      {
        kind: 'StagedKubernetesNetworkPolicy',
        namespace: 'shop',
        name: 'lockdown',
        tier: 'default',
        action: 'deny',
        ruleIndex: -1,
        stage: 'pending',
      },
    ]);
  });

  it('skips zero-packet denies and rejects flows without a key or a start time', () => {
    const m = new GoldmaneFlowMapper();
    expect(m.map({ Key: { action: 'Deny', proto: 'udp' }, start_time: 1 })).toEqual({
      skipped: 'stale-deny-zero-packets',
    });
    expect(() => m.map({ start_time: 1 })).toThrow('flow has no Key');
    expect(() => m.map({ Key: { action: 'Allow', proto: 'udp' } })).toThrow('flow has no start_time');
  });
});

describe('CalicoFlowLogGenerator', () => {
  it('is deterministic and every line maps to a valid record, with a share of denies', () => {
    const a = new CalicoFlowLogGenerator({ seed: 123 }).lines(500);
    expect(new CalicoFlowLogGenerator({ seed: 123 }).lines(500)).toEqual(a);
    const m = new CalicoLineMapper({ cluster: 'bench' });
    let denied = 0;
    let audit = 0;
    for (const l of a) {
      const res = m.map(l);
      if (res.kind !== 'flows') throw new Error(`skipped: ${res.what}`);
      const r = validateFlowRecord(JSON.parse(JSON.stringify(res.records[0])));
      if (r.verdict === 'denied') denied++;
      if (r.verdict === 'audit') audit++;
    }
    expect(denied).toBeGreaterThan(25);
    expect(denied).toBeLessThan(80);
    expect(audit).toBeGreaterThan(0);
  });

  // Throughput is measured by `npm run bench`, never asserted against the clock in a test.
  it('maps every one of 20,000 generated lines to one record', () => {
    const lines = new CalicoFlowLogGenerator({ seed: 1 }).lines(20_000);
    const m = new CalicoLineMapper();
    let records = 0;
    for (const l of lines) {
      const r = m.map(l);
      if (r.kind === 'flows') records += r.records.length;
    }
    expect(records).toBe(20_000);
  });
});
