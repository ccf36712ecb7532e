import { describe, expect, it } from '@jest/globals';
import { ipBlockMatches, parseCidr, parseIp, type Cidr, type IpBlockMatcher } from './cidr.js';
import { IpBlockIndex } from './ip-block-index.js';

function cidr(text: string): Cidr {
  const c = parseCidr(text);
  if (!c) throw new Error(`not a CIDR: ${text}`);
  return c;
}

function block(text: string, except: string[] = []): IpBlockMatcher {
  return { cidr: cidr(text), except: except.map(cidr), text };
}

function sig(index: IpBlockIndex, address: string): string {
  const ip = parseIp(address);
  if (!ip) throw new Error(`not an address: ${address}`);
  return index.signature(ip);
}

describe('IpBlockIndex', () => {
  it('lists every overlapping block that contains an address, at the edges of each', () => {
    const index = new IpBlockIndex();
    expect(index.add(block('10.0.0.0/8'))).toBe(0);
    expect(index.add(block('10.1.0.0/16'))).toBe(1);
    expect(index.add(block('10.1.2.0/24'))).toBe(2);
    expect(index.add(block('0.0.0.0/0', ['10.0.0.0/8']))).toBe(3);
    expect(index.size).toBe(4);
    expect(sig(index, '10.1.2.3')).toBe('0,1,2,');
    expect(sig(index, '10.1.2.0')).toBe('0,1,2,');
    expect(sig(index, '10.1.2.255')).toBe('0,1,2,');
    expect(sig(index, '10.1.1.255')).toBe('0,1,');
    expect(sig(index, '10.1.3.0')).toBe('0,1,');
    expect(sig(index, '10.1.255.255')).toBe('0,1,');
    expect(sig(index, '10.2.0.0')).toBe('0,');
    expect(sig(index, '10.0.0.0')).toBe('0,');
    expect(sig(index, '10.255.255.255')).toBe('0,');
    expect(sig(index, '9.255.255.255')).toBe('3,');
    expect(sig(index, '11.0.0.0')).toBe('3,');
    expect(sig(index, '0.0.0.0')).toBe('3,');
    expect(sig(index, '255.255.255.255')).toBe('3,');
    expect(sig(index, '93.184.216.34')).toBe('3,');
  });

  it('leaves out the except ranges of a block, and takes the block back after them', () => {
    const index = new IpBlockIndex();
    index.add(block('172.16.0.0/12', ['172.16.5.0/24', '172.17.0.0/16']));
    expect(sig(index, '172.16.0.0')).toBe('0,');
    expect(sig(index, '172.16.4.255')).toBe('0,');
    expect(sig(index, '172.16.5.0')).toBe('');
    expect(sig(index, '172.16.5.255')).toBe('');
    expect(sig(index, '172.16.6.0')).toBe('0,');
    expect(sig(index, '172.17.0.0')).toBe('');
    expect(sig(index, '172.17.200.1')).toBe('');
    expect(sig(index, '172.18.0.0')).toBe('0,');
    expect(sig(index, '172.31.255.255')).toBe('0,');
    expect(sig(index, '172.32.0.0')).toBe('');
    expect(sig(index, '172.15.255.255')).toBe('');
  });

  it('masks host bits away: 192.168.242.213/24 is 192.168.242.0 to 192.168.242.255', () => {
    const index = new IpBlockIndex();
    index.add(block('192.168.242.213/24'));
    index.add(block('192.168.242.7/32'));
    expect(sig(index, '192.168.242.0')).toBe('0,');
    expect(sig(index, '192.168.242.7')).toBe('0,1,');
    expect(sig(index, '192.168.242.8')).toBe('0,');
    expect(sig(index, '192.168.242.255')).toBe('0,');
    expect(sig(index, '192.168.241.255')).toBe('');
    expect(sig(index, '192.168.243.0')).toBe('');
  });

  it('keeps IPv4 and IPv6 apart, and treats IPv4-mapped IPv6 addresses as IPv4', () => {
    const index = new IpBlockIndex();
    index.add(block('2001:db8::/32'));
    index.add(block('2001:db8:1::/48', ['2001:db8:1:2::/64']));
    index.add(block('::/0'));
    index.add(block('10.0.0.0/8'));
    index.add(block('192.168.0.0/16'));
    expect(sig(index, '2001:db8::1')).toBe('0,2,');
    expect(sig(index, '2001:db8:1::1')).toBe('0,1,2,');
    expect(sig(index, '2001:db8:1:1:ffff:ffff:ffff:ffff')).toBe('0,1,2,');
    expect(sig(index, '2001:db8:1:2::5')).toBe('0,2,');
    expect(sig(index, '2001:db8:1:3::')).toBe('0,1,2,');
    expect(sig(index, '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff')).toBe('0,2,');
    expect(sig(index, '2001:db9::')).toBe('2,');
    expect(sig(index, '::')).toBe('2,');
    expect(sig(index, 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')).toBe('2,');
    // An IPv4 address is in no IPv6 block, ::/0 included.
    expect(sig(index, '10.1.2.3')).toBe('3,');
    expect(sig(index, '::ffff:10.1.2.3')).toBe('3,');
    expect(sig(index, '::ffff:192.168.3.4')).toBe('4,');
    expect(sig(index, '192.168.3.4')).toBe('4,');
    expect(sig(index, '192.169.0.0')).toBe('');
  });

  it('has nothing to say without blocks, and takes blocks added after a lookup into account', () => {
    const index = new IpBlockIndex();
    expect(sig(index, '10.0.0.1')).toBe('');
    index.add(block('10.0.0.0/24'));
    expect(sig(index, '10.0.0.1')).toBe('0,');
    expect(sig(index, '10.0.1.1')).toBe('');
    index.add(block('10.0.0.0/16'));
    expect(sig(index, '10.0.0.1')).toBe('0,1,');
    expect(sig(index, '10.0.1.1')).toBe('1,');
  });

  it('agrees with trying each block, for addresses around every edge of many nested blocks', () => {
    const blocks = [
      block('0.0.0.0/0', ['10.0.0.0/8', '192.168.0.0/16']),
      block('10.0.0.0/8', ['10.128.0.0/9']),
      block('10.64.0.0/10'),
      block('10.64.3.0/24', ['10.64.3.128/25']),
      block('10.64.3.200/32'),
      block('192.168.1.0/24'),
      block('255.255.255.255/32'),
      block('0.0.0.0/32'),
    ];
    const index = new IpBlockIndex();
    for (const b of blocks) index.add(b);
    const edges = [
      '0.0.0.0',
      '0.0.0.1',
      '9.255.255.255',
      '10.0.0.0',
      '10.63.255.255',
      '10.64.0.0',
      '10.64.2.255',
      '10.64.3.0',
      '10.64.3.127',
      '10.64.3.128',
      '10.64.3.199',
      '10.64.3.200',
      '10.64.3.201',
      '10.64.3.255',
      '10.64.4.0',
      '10.127.255.255',
      '10.128.0.0',
      '10.255.255.255',
      '11.0.0.0',
      '192.167.255.255',
      '192.168.0.255',
      '192.168.1.0',
      '192.168.1.255',
      '192.168.2.0',
      '192.169.0.0',
      '255.255.255.254',
      '255.255.255.255',
    ];
    for (const address of edges) {
      const ip = parseIp(address);
      if (!ip) throw new Error(address);
      const oneByOne = blocks.flatMap((b, i) => (ipBlockMatches(b, ip) ? [`${i},`] : [])).join('');
      expect(`${address} ${index.signature(ip)}`).toBe(`${address} ${oneByOne}`);
    }
    // And by hand for a few of them.
    expect(sig(index, '10.64.3.200')).toBe('1,2,4,');
    expect(sig(index, '10.64.3.127')).toBe('1,2,3,');
    expect(sig(index, '10.64.3.128')).toBe('1,2,');
    expect(sig(index, '0.0.0.0')).toBe('0,7,');
    expect(sig(index, '255.255.255.255')).toBe('0,6,');
    expect(sig(index, '192.168.1.7')).toBe('5,');
  });
});
