/**
 * IPv4/IPv6 addresses and CIDR blocks (with `except`), as NetworkPolicy ipBlock needs them.
 * Host bits in a CIDR (`192.168.242.213/24`) are accepted and masked away, as kube-apiserver's
 * older validation did and as test data contains.
 */

export type IpFamily = 4 | 6;

export interface ParsedIp {
  family: IpFamily;
  /** The address as an unsigned integer (IPv4 fits in 32 bits; bigint for both for one code path). */
  value: bigint;
}

export interface Cidr {
  family: IpFamily;
  network: bigint;
  prefix: number;
  /** The original text. */
  text: string;
}

/** The address as a number: four parts of one to three digits, each at most 255 (no regex, no split). */
function parseIpv4Number(s: string): number | undefined {
  let value = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46; // the end closes the last part like a '.'
    if (c >= 48 && c <= 57) {
      if (++digits > 3) return undefined;
      part = part * 10 + (c - 48);
    } else if (c === 46) {
      if (digits === 0 || part > 255 || ++parts > 4) return undefined;
      value = value * 256 + part;
      part = 0;
      digits = 0;
    } else return undefined;
  }
  return parts === 4 ? value : undefined;
}

function parseIpv4(s: string): bigint | undefined {
  const n = parseIpv4Number(s);
  return n === undefined ? undefined : BigInt(n);
}

function parseIpv6(input: string): bigint | undefined {
  let s = input;
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  if (s.length === 0 || !/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  // Embedded IPv4 in the last 32 bits (::ffff:1.2.3.4).
  let tailWords: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.')) {
    const v4 = parseIpv4(s.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tailWords = [Number(v4 >> 16n), Number(v4 & 0xffffn)];
    const head = s.slice(0, lastColon + 1);
    s = head.endsWith('::') ? head : head.slice(0, -1);
  }
  const dbl = s.indexOf('::');
  if (dbl !== s.lastIndexOf('::')) return undefined;
  const parseGroup = (g: string): number | undefined => (/^[0-9a-fA-F]{1,4}$/.test(g) ? parseInt(g, 16) : undefined);
  let words: number[];
  if (dbl >= 0) {
    const head = s.slice(0, dbl);
    const tail = s.slice(dbl + 2);
    const h = head === '' ? [] : head.split(':').map(parseGroup);
    const t = tail === '' ? [] : tail.split(':').map(parseGroup);
    if (h.some((x) => x === undefined) || t.some((x) => x === undefined)) return undefined;
    const fill = 8 - h.length - t.length - tailWords.length;
    if (fill < 1) return undefined;
    words = [...(h as number[]), ...new Array<number>(fill).fill(0), ...(t as number[]), ...tailWords];
  } else {
    const g = s === '' ? [] : s.split(':').map(parseGroup);
    if (g.some((x) => x === undefined)) return undefined;
    words = [...(g as number[]), ...tailWords];
  }
  if (words.length !== 8) return undefined;
  let v = 0n;
  for (const w of words) v = (v << 16n) | BigInt(w);
  return v;
}

/** Parse an IPv4 or IPv6 address; undefined when it is not one. */
export function parseIp(s: string): ParsedIp | undefined {
  if (s.includes(':')) {
    const v = parseIpv6(s);
    if (v === undefined) return undefined;
    // IPv4-mapped IPv6 addresses are IPv4 for policy purposes.
    if (v >> 32n === 0xffffn) return { family: 4, value: v & 0xffffffffn };
    return { family: 6, value: v };
  }
  const v = parseIpv4(s);
  return v === undefined ? undefined : { family: 4, value: v };
}

export function isIp(s: string): boolean {
  return parseIp(s) !== undefined;
}

/** Parse `a.b.c.d/n` or `x::/n`; an address without `/n` is a host route. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const addr = slash >= 0 ? text.slice(0, slash) : text;
  const ip = parseIp(addr);
  if (!ip) return undefined;
  // A mapped address (::ffff:a.b.c.d) is IPv4, but its prefix is written in IPv6 bits.
  const mapped = addr.includes(':') && ip.family === 4;
  const bits = ip.family === 4 && !mapped ? 32 : 128;
  let prefix = bits;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return undefined;
    prefix = Number(p);
    if (prefix > bits) return undefined;
  }
  // A mapped IPv6 CIDR (::ffff:0:0/96+) becomes IPv4.
  if (mapped) {
    if (prefix < 96) return undefined;
    prefix -= 96;
  }
  const fam = ip.family;
  const famBits = fam === 4 ? 32 : 128;
  const mask = prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << BigInt(famBits - prefix);
  return { family: fam, network: ip.value & mask, prefix, text };
}

export function cidrContains(c: Cidr, ip: ParsedIp): boolean {
  if (c.family !== ip.family) return false;
  if (c.family === 4) {
    // In doubles (IPv4 fits exactly): BigInt shifts allocate, and rules check peers per decision.
    const size = 2 ** (32 - c.prefix);
    return Math.floor(Number(ip.value) / size) === Math.floor(Number(c.network) / size);
  }
  const bits = 128;
  const shift = BigInt(bits - c.prefix);
  return ip.value >> shift === c.network >> shift;
}

/** True when `inner` lies within `outer` (same family, longer or equal prefix). */
export function cidrWithin(inner: Cidr, outer: Cidr): boolean {
  return (
    inner.family === outer.family &&
    inner.prefix >= outer.prefix &&
    cidrContains(outer, { family: inner.family, value: inner.network })
  );
}

export interface IpBlockMatcher {
  cidr: Cidr;
  except: Cidr[];
  /** `cidr except a,b` */
  text: string;
}

export function ipBlockMatches(b: IpBlockMatcher, ip: ParsedIp): boolean {
  if (!cidrContains(b.cidr, ip)) return false;
  for (const e of b.except) if (cidrContains(e, ip)) return false;
  return true;
}
