/**
 * External addresses as CIDRs: one /32 (/128) per observed address, except where several
 * addresses of one /24 were seen, which become that /24 (a provider's pool rotates within it).
 */
import { isIp } from '../policy/index.js';

/** Addresses of one /24 needed before the /24 replaces them. */
export const GROUP_THRESHOLD = 4;

function v4(ip: string): number[] | undefined {
  const parts = ip.split('.').map(Number);
  return parts.length === 4 && parts.every((n) => Number.isInteger(n) && n >= 0 && n <= 255) ? parts : undefined;
}

function hostCidr(ip: string): string {
  return ip.includes('/') ? ip : `${ip}/${ip.includes(':') ? 128 : 32}`;
}

export function compactCidrs(addresses: readonly string[]): string[] {
  const byNet = new Map<string, string[]>();
  const out = new Set<string>();
  for (const a of addresses) {
    const bare = a.replace(/\/(32|128)$/, '');
    const p = isIp(bare) ? v4(bare) : undefined;
    if (!p) {
      out.add(hostCidr(a));
      continue;
    }
    const net = `${p[0]}.${p[1]}.${p[2]}.0/24`;
    byNet.set(net, [...(byNet.get(net) ?? []), bare]);
  }
  for (const [net, ips] of byNet) {
    const distinct = [...new Set(ips)];
    if (distinct.length >= GROUP_THRESHOLD) out.add(net);
    else for (const ip of distinct) out.add(hostCidr(ip));
  }
  return [...out].sort();
}
