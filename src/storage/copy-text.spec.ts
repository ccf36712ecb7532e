import { describe, expect, it } from '@jest/globals';
import type { DropEventRow } from '../aggregator/edge-rollup.js';
import type { FlowRecord } from '../flow/flow-record.js';
import { EVENT_COLUMNS, dropEventLine, eventsToCopyText } from './copy-text.js';

const record = {
  schema: 1,
  id: 'f-1',
  source: 'hubble',
  cluster: 'c1',
  time: '2026-01-01T00:00:00Z',
  verdict: 'denied',
  direction: 'egress',
  src: { kind: 'pod', namespace: 'web', pod: 'a\\b' },
  dst: { kind: 'pod', namespace: 'db', pod: 'pg-0' },
  protocol: 'TCP',
  count: 1,
} as unknown as FlowRecord;

function event(over: Partial<DropEventRow> = {}): DropEventRow {
  return {
    flow_id: 'f-1',
    time: '2026-01-01T00:00:00Z',
    end_time: null,
    source: 'hubble',
    cluster: 'c1',
    node: null,
    verdict: 'denied',
    drop_reason: 'POLICY_DENIED',
    direction: 'egress',
    src_kind: 'pod',
    src_namespace: 'web',
    src_pod: 'a\\b',
    src_workload: 'Deployment/a',
    src_ip: '10.0.0.1',
    dst_kind: 'pod',
    dst_namespace: 'db',
    dst_pod: 'pg-0',
    dst_workload: 'StatefulSet/pg',
    dst_ip: null,
    dst_port: 5432,
    protocol: 'TCP',
    count: 3,
    attribution_level: '',
    policies: [],
    attribution: null,
    record,
    ...over,
  };
}

describe('dropEventLine', () => {
  it('writes every column in EVENT_COLUMNS order, \\N for nulls, backslashes doubled', () => {
    const line = dropEventLine(event());
    expect(line.split('\t')).toHaveLength(EVENT_COLUMNS.length);
    expect(line).toBe(
      'f-1\t2026-01-01T00:00:00Z\t\\N\thubble\tc1\t\\N\tdenied\tPOLICY_DENIED\tegress\tpod\tweb\ta\\\\b\t' +
        'Deployment/a\t10.0.0.1\tpod\tdb\tpg-0\tStatefulSet/pg\t\\N\t5432\tTCP\t3\t\t{}\t\\N\t' +
        '{"schema":1,"id":"f-1","source":"hubble","cluster":"c1","time":"2026-01-01T00:00:00Z","verdict":"denied",' +
        '"direction":"egress","src":{"kind":"pod","namespace":"web","pod":"a\\\\\\\\b"},' +
        '"dst":{"kind":"pod","namespace":"db","pod":"pg-0"},"protocol":"TCP","count":1}',
    );
  });

  it('escapes tabs and newlines, quotes policy names in the array and writes the attribution as JSON', () => {
    const line = dropEventLine(
      event({
        node: 'node\t1',
        end_time: '2026-01-01T00:00:05Z',
        attribution_level: 'inferred',
        policies: ['shop/deny-all', 'shop/x"y'],
        attribution: { level: 'inferred', policies: [], reason: 'line\nbreak' },
      }),
    );
    const fields = line.split('\t');
    expect(fields).toHaveLength(EVENT_COLUMNS.length);
    expect(fields[EVENT_COLUMNS.indexOf('end_time')]).toBe('2026-01-01T00:00:05Z');
    expect(fields[EVENT_COLUMNS.indexOf('node')]).toBe('node\\t1');
    expect(fields[EVENT_COLUMNS.indexOf('attribution_level')]).toBe('inferred');
    expect(fields[EVENT_COLUMNS.indexOf('policies')]).toBe('{"shop/deny-all","shop/x\\\\"y"}');
    expect(fields[EVENT_COLUMNS.indexOf('attribution')]).toBe(
      '{"level":"inferred","policies":[],"reason":"line\\\\nbreak"}',
    );
  });

  it('ends every event of a batch with a newline', () => {
    expect(eventsToCopyText([event(), event({ flow_id: 'f-2' })])).toBe(
      `${dropEventLine(event())}\n${dropEventLine(event({ flow_id: 'f-2' }))}\n`,
    );
  });
});
