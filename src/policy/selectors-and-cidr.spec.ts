import { describe, expect, it } from '@jest/globals';
import { CalicoSelectorError, compileCalicoSelector } from './calico-selector.js';
import { cidrContains, parseCidr, parseIp } from './cidr.js';
import { canonicalLabels, compileLabelSelector } from './label-selector.js';
import { LruCache } from './lru-cache.js';

describe('label selectors', () => {
  it('supports matchLabels and all operators; empty matches all', () => {
    expect(compileLabelSelector({})({})).toBe(true);
    const s = compileLabelSelector({
      matchLabels: { app: 'web' },
      matchExpressions: [
        { key: 'tier', operator: 'NotIn', values: ['db'] },
        { key: 'legacy', operator: 'DoesNotExist' },
      ],
    });
    expect(s({ app: 'web' })).toBe(true);
    expect(s({ app: 'web', tier: 'db' })).toBe(false);
    expect(s({ app: 'web', legacy: '' })).toBe(false);
    expect(
      compileLabelSelector({ matchExpressions: [{ key: 'a', operator: 'In', values: ['1', '2'] }] })({ a: '2' }),
    ).toBe(true);
    expect(compileLabelSelector({ matchExpressions: [{ key: 'a', operator: 'Exists' }] })({})).toBe(false);
  });
  it('canonicalizes label sets independent of order', () => {
    expect(canonicalLabels({ b: '2', a: '1' })).toBe(canonicalLabels({ a: '1', b: '2' }));
  });
});

describe('Calico selectors', () => {
  const m = (expr: string, labels: Record<string, string>): boolean => compileCalicoSelector(expr)(labels);
  it('evaluates all(), has(), ==, !=, in, not in, &&, ||, !, parentheses, string ops', () => {
    expect(m('all()', {})).toBe(true);
    expect(m('', {})).toBe(true);
    expect(m("has(app) && app == 'web'", { app: 'web' })).toBe(true);
    expect(m("app != 'web'", {})).toBe(true);
    expect(m("app in {'a', 'b'}", { app: 'b' })).toBe(true);
    expect(m("app not in {'a'}", {})).toBe(true);
    expect(m('!has(x) && (a == \'1\' || b == "2")', { b: '2' })).toBe(true);
    expect(m("projectcalico.org/namespace == 'kube-system'", { 'projectcalico.org/namespace': 'default' })).toBe(false);
    expect(m("name starts with 'web-' && name ends with '-1' && name contains 'x'", { name: 'web-1' })).toBe(false);
    expect(m("name starts with 'web'", { name: 'web-1' })).toBe(true);
  });
  it('throws on syntax errors with a position', () => {
    expect(() => compileCalicoSelector("app == 'web' &&")).toThrow(CalicoSelectorError);
    expect(() => compileCalicoSelector('app = web')).toThrow(/position/);
  });
});

describe('CIDRs', () => {
  it('parses IPv4, IPv6 (compressed, embedded v4, mapped), masks host bits', () => {
    expect(parseIp('10.0.0.1')?.family).toBe(4);
    expect(parseIp('2001:db8::1')?.family).toBe(6);
    expect(parseIp('::ffff:10.0.0.1')).toEqual(parseIp('10.0.0.1'));
    expect(parseIp('::1.2.3.4')?.family).toBe(6);
    expect(parseIp('1.2.3')).toBeUndefined();
    expect(parseIp('2001:db8::1::2')).toBeUndefined();
    const c = parseCidr('192.168.242.213/24');
    expect(c && cidrContains(c, parseIp('192.168.242.7') ?? { family: 4, value: 0n })).toBe(true);
    const v6 = parseCidr('2001:db8::/32');
    expect(v6 && cidrContains(v6, parseIp('2001:db8:ffff::1') ?? { family: 6, value: 0n })).toBe(true);
    expect(v6 && cidrContains(v6, parseIp('10.0.0.1') ?? { family: 4, value: 0n })).toBe(false);
    expect(parseCidr('10.0.0.0/33')).toBeUndefined();
  });

  it('contains exactly the addresses of an IPv4 prefix, from /0 to /32, at both ends', () => {
    const inside = (cidr: string, ip: string): boolean => {
      const c = parseCidr(cidr);
      const a = parseIp(ip);
      if (!c || !a) throw new Error(`${cidr} ${ip}`);
      return cidrContains(c, a);
    };
    expect(inside('0.0.0.0/0', '0.0.0.0')).toBe(true);
    expect(inside('0.0.0.0/0', '255.255.255.255')).toBe(true);
    expect(inside('10.0.0.0/8', '10.255.255.255')).toBe(true);
    expect(inside('10.0.0.0/8', '11.0.0.0')).toBe(false);
    expect(inside('10.0.0.0/8', '9.255.255.255')).toBe(false);
    expect(inside('128.0.0.0/1', '255.255.255.255')).toBe(true);
    expect(inside('128.0.0.0/1', '127.255.255.255')).toBe(false);
    expect(inside('192.168.242.213/24', '192.168.242.0')).toBe(true);
    expect(inside('192.168.242.213/24', '192.168.243.0')).toBe(false);
    expect(inside('172.16.5.4/31', '172.16.5.5')).toBe(true);
    expect(inside('172.16.5.4/31', '172.16.5.6')).toBe(false);
    expect(inside('255.255.255.255/32', '255.255.255.255')).toBe(true);
    expect(inside('255.255.255.255/32', '255.255.255.254')).toBe(false);
    expect(inside('10.0.0.7/32', '10.0.0.7')).toBe(true);
    expect(inside('10.0.0.7/32', '10.0.0.6')).toBe(false);
    // An IPv4-mapped IPv6 address is IPv4; an IPv4 prefix never contains an IPv6 address.
    expect(inside('10.0.0.0/8', '::ffff:10.1.2.3')).toBe(true);
    expect(inside('0.0.0.0/0', '::1')).toBe(false);
  });

  it('reads an IPv4-mapped IPv6 CIDR (::ffff:0:0/96 and longer) as the IPv4 prefix it spells', () => {
    // ::ffff:192.168.0.0/112 is 192.168.0.0/16; a mapped address alone is one IPv4 address.
    expect(parseCidr('::ffff:192.168.0.0/112')).toMatchObject({ family: 4, prefix: 16 });
    expect(parseCidr('::ffff:192.168.0.0/112')?.network).toBe(parseIp('192.168.0.0')?.value);
    expect(parseCidr('::ffff:10.1.2.3')).toMatchObject({ family: 4, prefix: 32 });
    expect(parseCidr('::ffff:0.0.0.0/96')).toMatchObject({ family: 4, prefix: 0 });
    expect(parseCidr('::ffff:10.0.0.0/128')).toMatchObject({ family: 4, prefix: 32 });
    // Shorter than /96 reaches outside the mapped range: not an IPv4 prefix, refused.
    expect(parseCidr('::ffff:10.0.0.0/95')).toBeUndefined();
    expect(parseCidr('::ffff:10.0.0.0/129')).toBeUndefined();
    const c = parseCidr('::ffff:192.168.0.0/112');
    const ip = parseIp('192.168.255.255');
    expect(c && ip && cidrContains(c, ip)).toBe(true);
    const out = parseIp('192.169.0.0');
    expect(c && out && cidrContains(c, out)).toBe(false);
  });
});

describe('LruCache', () => {
  it('keeps at most max entries and promotes hits', () => {
    const c = new LruCache<string, number>(4);
    c.set('a', 1);
    c.set('b', 2);
    c.set('c', 3); // a,b → old
    expect(c.get('a')).toBe(1); // promoted
    c.set('d', 4);
    c.set('e', 5);
    expect(c.size).toBeLessThanOrEqual(4);
    expect(c.get('e')).toBe(5);
  });

  it('evicts the generation nobody read: a hit moves an entry to the young generation', () => {
    // max 4: two generations of 2. young=[a,b]; c rotates: old=[a,b], young=[c].
    const c = new LruCache<string, number>(4);
    c.set('a', 1);
    c.set('b', 2);
    c.set('c', 3);
    expect(c.size).toBe(3);
    // a is read: it moves from old to young (young=[c,a], old=[b]); counted once.
    expect(c.get('a')).toBe(1);
    expect(c.size).toBe(3);
    // d rotates: old=[c,a], young=[d]; b (never read) is dropped.
    c.set('d', 4);
    expect(c.size).toBe(3);
    expect(c.get('b')).toBeUndefined();
    // c is read and promoted (young=[d,c], old=[a]); e rotates: old=[d,c], young=[e]; a is dropped.
    expect(c.get('c')).toBe(3);
    c.set('e', 5);
    expect(c.get('a')).toBeUndefined();
    expect([c.get('c'), c.get('d'), c.get('e')]).toEqual([3, 4, 5]);
    expect(c.hits).toBe(5);
    expect(c.misses).toBe(2);
  });

  it('overwrites a key in place and never holds more than max entries', () => {
    const c = new LruCache<number, number>(10);
    for (let i = 0; i < 1000; i++) {
      c.set(i, i);
      c.set(i, i * 2);
      expect(c.size).toBeLessThanOrEqual(10);
    }
    expect(c.get(999)).toBe(1998);
    expect(c.get(0)).toBeUndefined();
  });
});
