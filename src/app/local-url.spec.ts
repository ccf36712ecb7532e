import { describe, expect, it } from '@jest/globals';
import { localUrl } from './local-url.js';

describe('localUrl: where this process is reached locally, from its bound address', () => {
  it('names localhost for a wildcard bind, the address otherwise (IPv6 in brackets), and the bound port', () => {
    expect(localUrl({ address: '0.0.0.0', family: 'IPv4', port: 41234 })).toBe('http://localhost:41234');
    expect(localUrl({ address: '::', family: 'IPv6', port: 8080 })).toBe('http://localhost:8080');
    expect(localUrl({ address: '127.0.0.1', family: 'IPv4', port: 9000 })).toBe('http://127.0.0.1:9000');
    expect(localUrl({ address: '::1', family: 'IPv6', port: 9000 })).toBe('http://[::1]:9000');
  });
});
