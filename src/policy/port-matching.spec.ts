import { describe, expect, it } from '@jest/globals';
import type { EndpointContext } from './compiled-policy.js';
import {
  ANY_PORT,
  compilePortRanges,
  describePortRange,
  matchesByNumberOnly,
  matchPortRanges,
  normProto,
  resolveNamedPort,
} from './port-matching.js';

const pod = (namedPorts?: EndpointContext['ep']['namedPorts']): EndpointContext => ({
  ep: { kind: 'pod', namespace: 'shop', labels: {}, ...(namedPorts ? { namedPorts } : {}) },
  labels: {},
  namedPorts,
  nsLabels: {},
  ip: undefined,
  isPod: true,
});
const WEB = pod([
  { name: 'http', port: 8080, protocol: 'TCP' },
  { name: 'dns', port: 5353, protocol: 'UDP' },
]);

describe('port matching', () => {
  it('matches single ports, endPort ranges (inclusive) and whole protocols', () => {
    const ranges = [{ protocol: 'TCP', port: 80 }, { protocol: 'TCP', port: 8000, endPort: 8010 }, { protocol: 'UDP' }];
    expect(matchPortRanges(ranges, 80, 'TCP', WEB)).toBe('match');
    expect(matchPortRanges(ranges, 8000, 'TCP', WEB)).toBe('match');
    expect(matchPortRanges(ranges, 8010, 'TCP', WEB)).toBe('match');
    expect(matchPortRanges(ranges, 8011, 'TCP', WEB)).toBe('nomatch');
    expect(matchPortRanges(ranges, 81, 'TCP', WEB)).toBe('nomatch');
    expect(matchPortRanges(ranges, 9999, 'UDP', WEB)).toBe('match');
    expect(matchPortRanges(ranges, 80, 'SCTP', WEB)).toBe('nomatch');
    // A port-less probe (ICMP) only matches a range without a port.
    expect(matchPortRanges(ranges, undefined, 'TCP', WEB)).toBe('nomatch');
    expect(matchPortRanges([], 80, 'TCP', WEB)).toBe('nomatch');
  });

  it('a range without protocol matches any protocol', () => {
    expect(matchPortRanges([{ port: 53 }], 53, 'UDP', WEB)).toBe('match');
    expect(matchPortRanges([{ port: 53 }], 53, 'TCP', WEB)).toBe('match');
  });

  it('resolves named ports on the destination pod by name and protocol', () => {
    expect(matchPortRanges([{ protocol: 'TCP', port: 'http' }], 8080, 'TCP', WEB)).toBe('match');
    expect(matchPortRanges([{ protocol: 'TCP', port: 'http' }], 80, 'TCP', WEB)).toBe('nomatch');
    expect(matchPortRanges([{ port: 'dns' }], 5353, 'TCP', WEB)).toBe('nomatch');
    expect(matchPortRanges([{ port: 'dns' }], 5353, 'UDP', WEB)).toBe('match');
    // Unknown container ports: the answer is unresolved, not a guess; a numeric match still wins.
    expect(matchPortRanges([{ protocol: 'TCP', port: 'http' }], 8080, 'TCP', pod())).toBe('unresolved');
    expect(matchPortRanges([{ protocol: 'TCP', port: 'http' }, { port: 8080 }], 8080, 'TCP', pod())).toBe('match');
    expect(resolveNamedPort({ ...WEB, isPod: false }, 'http', 'TCP')).toBe('nomatch');
    expect(resolveNamedPort(WEB, 'http', 'TCP')).toBe(8080);
  });

  it('normalizes protocol names and numbers; describes ranges', () => {
    expect([normProto(undefined), normProto('udp'), normProto('6'), normProto('58')]).toEqual([
      'TCP',
      'UDP',
      'TCP',
      'ICMPV6',
    ]);
    expect(describePortRange('TCP', { port: 80 })).toBe('TCP/80');
    expect(describePortRange('TCP', { port: 8000, endPort: 8010 })).toBe('TCP/8000-8010');
    expect(describePortRange('UDP', {})).toBe('UDP/*');
    expect(describePortRange('ANY', { port: 'http' })).toBe('ANY/http');
  });

  it('gives the same answers compiled once per rule (compilePortRanges)', () => {
    const ranges = [
      { protocol: 'TCP', port: 80 },
      { protocol: 'TCP', port: 8000, endPort: 8010 },
      { protocol: 'UDP' },
      { port: 53 },
      { protocol: 'TCP', port: 'http' },
    ];
    const m = compilePortRanges(ranges);
    const cases: [number | undefined, string, EndpointContext, string][] = [
      [80, 'TCP', WEB, 'match'],
      [8010, 'TCP', WEB, 'match'],
      [8011, 'TCP', WEB, 'nomatch'],
      [9999, 'UDP', WEB, 'match'],
      [53, 'SCTP', WEB, 'match'],
      [54, 'SCTP', WEB, 'nomatch'],
      [undefined, 'TCP', WEB, 'nomatch'],
      [undefined, 'UDP', WEB, 'match'],
      [8080, 'TCP', WEB, 'match'],
      [8080, 'TCP', pod(), 'unresolved'],
      [80, 'TCP', pod(), 'match'],
      [8081, 'TCP', WEB, 'nomatch'],
    ];
    for (const [port, proto, dst, expected] of cases) {
      expect([port, proto, m(port, proto, dst)]).toEqual([port, proto, expected]);
      expect([port, proto, matchPortRanges(ranges, port, proto, dst)]).toEqual([port, proto, expected]);
    }
    expect(compilePortRanges([])(80, 'TCP', WEB)).toBe('nomatch');
  });

  it('tells which matchers answer by port and protocol alone (no named port to resolve)', () => {
    expect(matchesByNumberOnly(ANY_PORT)).toBe(true);
    expect(ANY_PORT(undefined, 'ICMP', pod())).toBe('match');
    expect(matchesByNumberOnly(compilePortRanges([{ protocol: 'TCP', port: 80 }]))).toBe(true);
    expect(matchesByNumberOnly(compilePortRanges([{ protocol: 'TCP', port: 80 }, { port: 53 }]))).toBe(true);
    expect(matchesByNumberOnly(compilePortRanges([]))).toBe(true);
    expect(matchesByNumberOnly(compilePortRanges([{ protocol: 'TCP', port: 'http' }]))).toBe(false);
    expect(
      matchesByNumberOnly(
        compilePortRanges([
          { protocol: 'TCP', port: 80 },
          { protocol: 'TCP', port: 'http' },
        ]),
      ),
    ).toBe(false);
    // A matcher made elsewhere may read the destination: never assumed to answer by number.
    expect(matchesByNumberOnly(() => 'match')).toBe(false);
  });
});
