import { describe, it, expect } from '@jest/globals';
import { DropDeduplicator } from './hubble-drop.dedup.js';
import { mapHubbleFlowTimed, type HubbleFlowRecord } from './hubble-flow.mapper.js';

const T0 = Date.parse('2025-03-01T10:00:00Z');

function iso(ms: number, extraNanos = 0): string {
  const whole = new Date(ms).toISOString().slice(0, 19);
  const nanos = (ms % 1000) * 1e6 + extraNanos;
  return `${whole}.${String(nanos).padStart(9, '0')}Z`;
}

interface Opts {
  at: number;
  type: 1 | 5 | 4;
  uuid: string;
  sport?: number;
  node?: string;
  verdict?: string;
  reason?: string;
}

function flow(o: Opts): { record: HubbleFlowRecord; timeMs: number } {
  return mapHubbleFlowTimed({
    time: iso(o.at, o.type === 1 ? 1500 : 0), // the drop event follows the verdict by microseconds
    uuid: o.uuid,
    verdict: o.verdict ?? 'DROPPED',
    drop_reason_desc: o.type === 5 ? (o.reason ?? 'POLICY_DENIED') : undefined,
    event_type: o.type === 1 ? { type: 1, sub_type: 133 } : { type: o.type },
    traffic_direction: o.type === 5 ? 'EGRESS' : undefined,
    IP: { source: '10.0.0.1', destination: '10.0.0.2' },
    l4: { TCP: { source_port: o.sport ?? 40000, destination_port: 5432 } },
    source: { namespace: 'shop', pod_name: 'web-1', labels: ['k8s:app=web'] },
    destination:
      o.type === 1
        ? { namespace: 'db', pod_name: 'pg-0', labels: ['k8s:app=pg'], identity: 4242 }
        : { namespace: 'db', pod_name: 'pg-0' },
    node_name: `prod/${o.node ?? 'n1'}`,
  });
}

function run(d: DropDeduplicator, flows: Array<{ record: HubbleFlowRecord; timeMs: number }>): HubbleFlowRecord[] {
  const out: HubbleFlowRecord[] = [];
  for (const f of flows) d.push(f.record, f.timeMs, out);
  d.flush(out);
  return out;
}

describe('DropDeduplicator', () => {
  it('collapses verdict-then-drop into the policy-verdict record', () => {
    const d = new DropDeduplicator();
    const out = run(d, [flow({ at: T0, type: 5, uuid: 'v1' }), flow({ at: T0, type: 1, uuid: 'd1' })]);
    expect(out.map((r) => r.id)).toEqual(['v1']);
    expect(d.stats.collapsed).toBe(1);
  });

  it('collapses drop-then-verdict: holds the drop, emits the verdict filled from it', () => {
    const d = new DropDeduplicator();
    const out: HubbleFlowRecord[] = [];
    const drop = flow({ at: T0, type: 1, uuid: 'd1' });
    expect(d.push(drop.record, drop.timeMs, out)).toBe('held');
    expect(out).toHaveLength(0);
    expect(d.oldestHeld()?.id).toBe('d1');
    const verdict = flow({ at: T0, type: 5, uuid: 'v1' });
    expect(d.push(verdict.record, verdict.timeMs, out)).toBe('collapsed');
    expect(out.map((r) => r.id)).toEqual(['v1']);
    expect(out[0]).toMatchObject({ direction: 'egress', eventType: 'policy-verdict', dropReason: 'POLICY_DENIED' });
    expect(out[0].dst).toMatchObject({ identity: 4242, labels: { app: 'pg' } }); // filled from the drop event
    expect(d.size).toBe(0);
  });

  it('pairs one-to-one: two retransmitted SYNs inside the window stay two drops', () => {
    const d = new DropDeduplicator({ windowMs: 1000 });
    const out = run(d, [
      flow({ at: T0, type: 5, uuid: 'v1' }),
      flow({ at: T0, type: 1, uuid: 'd1' }),
      flow({ at: T0 + 200, type: 5, uuid: 'v2' }),
      flow({ at: T0 + 200, type: 1, uuid: 'd2' }),
    ]);
    expect(out.map((r) => r.id)).toEqual(['v1', 'v2']);
  });

  it('does not pair across nodes, ports, or beyond the window', () => {
    const d = new DropDeduplicator({ windowMs: 500 });
    const out = run(d, [
      flow({ at: T0, type: 5, uuid: 'v1' }),
      flow({ at: T0, type: 1, uuid: 'other-node', node: 'n2' }),
      flow({ at: T0, type: 1, uuid: 'other-port', sport: 40001 }),
      flow({ at: T0 + 2000, type: 1, uuid: 'late' }),
    ]);
    expect(out.map((r) => r.id).sort()).toEqual(['late', 'other-node', 'other-port', 'v1']);
    expect(d.stats.collapsed).toBe(0);
  });

  it('passes through non-candidates untouched and in order', () => {
    const d = new DropDeduplicator();
    const out: HubbleFlowRecord[] = [];
    const trace = flow({ at: T0, type: 4, uuid: 't1', verdict: 'FORWARDED' });
    const other = flow({ at: T0, type: 5, uuid: 'v-allowed', verdict: 'FORWARDED' });
    expect(d.push(trace.record, trace.timeMs, out)).toBe('passed');
    expect(d.push(other.record, other.timeMs, out)).toBe('passed');
    expect(out.map((r) => r.id)).toEqual(['t1', 'v-allowed']);
    expect(d.size).toBe(0);
  });

  it('emits a held drop once flow time moves past the window', () => {
    const d = new DropDeduplicator({ windowMs: 500 });
    const out: HubbleFlowRecord[] = [];
    const drop = flow({ at: T0, type: 1, uuid: 'd1' });
    d.push(drop.record, drop.timeMs, out);
    const later = flow({ at: T0 + 600, type: 4, uuid: 't1', verdict: 'FORWARDED' });
    d.push(later.record, later.timeMs, out);
    expect(out.map((r) => r.id)).toEqual(['d1', 't1']);
  });

  it('emits a held drop after the window of wall time on an idle stream', () => {
    let now = 1000;
    const d = new DropDeduplicator({ windowMs: 500, clock: { now: () => now } });
    const out: HubbleFlowRecord[] = [];
    const drop = flow({ at: T0, type: 1, uuid: 'd1' });
    d.push(drop.record, drop.timeMs, out);
    d.expireIdle(out);
    expect(out).toHaveLength(0);
    now += 501;
    d.expireIdle(out);
    expect(out.map((r) => r.id)).toEqual(['d1']);
  });

  it('stays bounded: evicts the oldest, never loses a held drop', () => {
    const d = new DropDeduplicator({ maxEntries: 10, windowMs: 60_000 });
    const out: HubbleFlowRecord[] = [];
    for (let i = 0; i < 100; i++) {
      const f = flow({ at: T0 + i, type: 1, uuid: `d${i}`, sport: 1000 + i });
      d.push(f.record, f.timeMs, out);
      expect(d.size).toBeLessThanOrEqual(10);
    }
    d.flush(out);
    expect(out).toHaveLength(100);
    expect(new Set(out.map((r) => r.id)).size).toBe(100);
    expect(d.stats.evicted).toBe(90);
  });

  it('discardHeld forgets held drops but keeps remembered verdicts', () => {
    const d = new DropDeduplicator();
    const out: HubbleFlowRecord[] = [];
    const v = flow({ at: T0, type: 5, uuid: 'v1' });
    const held = flow({ at: T0, type: 1, uuid: 'd-other', sport: 1 });
    d.push(v.record, v.timeMs, out);
    d.push(held.record, held.timeMs, out);
    expect(d.discardHeld()).toBe(1);
    expect(d.oldestHeld()).toBeUndefined();
    const twin = flow({ at: T0, type: 1, uuid: 'd1' });
    expect(d.push(twin.record, twin.timeMs, out)).toBe('collapsed');
    expect(out.map((r) => r.id)).toEqual(['v1']);
  });
});
