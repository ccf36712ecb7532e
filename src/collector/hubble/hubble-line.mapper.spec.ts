import { describe, it, expect } from '@jest/globals';
import { readFileSync } from 'node:fs';
import type { FlowRecord } from '../../flow/flow-record.js';
import { validateFlowRecord } from '../../flow/flow-record.validator.js';
import { HubbleLineMapper } from './hubble-line.mapper.js';
import { generateHubbleLines } from '../../synthetic/hubble-flow.generator.js';

const FIXTURE = new URL('../../../test/fixtures/hubble/observe-samples.jsonl', import.meta.url);

function mapAll(
  m: HubbleLineMapper,
  lines: Iterable<string>,
): { records: FlowRecord[]; skipped: Record<string, number> } {
  const records: FlowRecord[] = [];
  const skipped: Record<string, number> = {};
  for (const line of lines) {
    const r = m.map(line);
    if (r.kind === 'flows') records.push(...r.records);
    else skipped[r.what] = (skipped[r.what] ?? 0) + 1;
  }
  records.push(...m.flush());
  return { records, skipped };
}

describe('HubbleLineMapper', () => {
  it('maps the shared samples: 14 flows, one lost_events line', () => {
    const m = new HubbleLineMapper();
    const { records, skipped } = mapAll(m, readFileSync(FIXTURE, 'utf8').split('\n'));
    expect(records).toHaveLength(14);
    expect(skipped).toEqual({ lost_events: 1, blank: 1 });
    expect(m.stats).toMatchObject({ flows: 14, lostEvents: 1, eventsLost: 1, nodeStatus: 0 });
    for (const r of records) validateFlowRecord(JSON.parse(JSON.stringify(r)));
  });

  it('skips node_status and lost_events lines by name', () => {
    const m = new HubbleLineMapper();
    expect(
      m.map(
        '{"node_status":{"state_change":"NODE_CONNECTED","node_names":["c/a","c/b"]},"time":"2025-01-01T00:00:00Z"}',
      ),
    ).toEqual({
      kind: 'skipped',
      what: 'node_status',
    });
    expect(m.map('{"lost_events":{"source":"PERF_EVENT_RING_BUFFER","num_events_lost":"12","cpu":3}}')).toEqual({
      kind: 'skipped',
      what: 'lost_events',
    });
    expect(m.stats.eventsLost).toBe(12);
    expect(m.map('   \r')).toEqual({ kind: 'skipped', what: 'blank' });
  });

  it('throws readable errors on malformed lines', () => {
    const m = new HubbleLineMapper();
    expect(() => m.map('{"flow":')).toThrow(/not valid JSON/);
    expect(() => m.map('[1,2]')).toThrow(/JSON object/);
    expect(() => m.map('42')).toThrow(/JSON object/);
    expect(() => m.map('{"foo":"bar"}')).toThrow(/not a Hubble GetFlowsResponse.*foo/);
    expect(() => m.map('{"flow":{"verdict":"DROPPED"}}')).toThrow(/no valid time/);
    expect(() => m.map('{"flow":{"time":"not a time","verdict":"DROPPED"}}')).toThrow(/no valid time/);
    // still usable after errors
    expect(m.map('{"flow":{"time":"2025-01-01T00:00:00Z","verdict":"FORWARDED"}}').kind).toBe('flows');
  });

  it('accepts CRLF line endings and bare flows', () => {
    const m = new HubbleLineMapper();
    const r = m.map(
      '{"time":"2025-01-01T00:00:00Z","verdict":"FORWARDED","IP":{"source":"1.1.1.1","destination":"2.2.2.2"}}\r',
    );
    expect(r.kind).toBe('flows');
  });

  it('collapses policy-verdict + drop pairs from generated traffic and reports the duplicate', () => {
    const lines = [...generateHubbleLines({ seed: 7, count: 2000 })];
    const m = new HubbleLineMapper();
    const { records, skipped } = mapAll(m, lines);
    const off = mapAll(new HubbleLineMapper({ dedup: false }), lines);
    expect(m.collapsed).toBeGreaterThan(0);
    // a collapsed line is a flow line, not a skipped one: every flow line is a record or a collapse
    expect(skipped.duplicate).toBeUndefined();
    expect(records.length + m.collapsed).toBe(off.records.length);
    expect(m.stats.duplicates).toBe(off.records.length - records.length);
    // every policy drop event had a policy-verdict twin: none survives; other drops do
    expect(records.filter((r) => r.eventType === 'drop' && r.verdict === 'denied')).toHaveLength(0);
    expect(records.filter((r) => r.eventType === 'drop' && r.verdict === 'dropped').length).toBeGreaterThan(0);
    const denied = off.records.filter((r) => r.verdict === 'denied');
    expect(m.stats.duplicates * 2).toBe(denied.length);
    expect(new Set(records.map((r) => r.id)).size).toBe(records.length);
    for (const r of records) validateFlowRecord(JSON.parse(JSON.stringify(r)));
  });
});
