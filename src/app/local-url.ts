import type { AddressInfo } from 'node:net';

/** The local URL of a bound HTTP server: a wildcard bind (0.0.0.0, ::) is reached at localhost. */
export function localUrl(address: AddressInfo): string {
  const a = address.address;
  const host = a === '0.0.0.0' || a === '::' ? 'localhost' : address.family === 'IPv6' ? `[${a}]` : a;
  return `http://${host}:${address.port}`;
}
