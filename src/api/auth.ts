/**
 * Bearer-token authentication, plain TypeScript: scopes, constant-time token checks, and the
 * first-start admin token. Tokens are never logged.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../common/logger.js';
import type { AppConfig } from '../config/config.js';

export type Scope = 'read' | 'admin';
/** What a route needs: nothing, a read token (or admin), or an admin token. */
export type Requirement = 'open' | Scope;

export const ADMIN_TOKEN_FILE = 'admin-token';

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * Checks a presented token against the configured ones. Tokens are compared as SHA-256 digests
 * with timingSafeEqual (equal lengths, so neither the content nor the length of a configured
 * token leaks through timing), and every configured token is compared on every call.
 */
export class TokenVerifier {
  private readonly read: Buffer[];
  private readonly admin: Buffer[];

  constructor(readTokens: readonly string[], adminTokens: readonly string[]) {
    this.read = readTokens.map(digest);
    this.admin = adminTokens.map(digest);
  }

  /** The scope of a token, or undefined when it is not a configured token. */
  scopeOf(token: string): Scope | undefined {
    const d = digest(token);
    let isAdmin = false;
    let isRead = false;
    for (const a of this.admin) if (timingSafeEqual(d, a)) isAdmin = true;
    for (const r of this.read) if (timingSafeEqual(d, r)) isRead = true;
    return isAdmin ? 'admin' : isRead ? 'read' : undefined;
  }

  get configured(): boolean {
    return this.read.length + this.admin.length > 0;
  }
}

/** `Authorization: Bearer <token>` → token; undefined when absent or of another scheme. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const m = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
  return m ? m[1] : undefined;
}

/** True when a token with `scope` may call a route that requires `required`. */
export function satisfies(scope: Scope, required: Requirement): boolean {
  return required === 'open' || scope === 'admin' || (required === 'read' && scope === 'read');
}

/**
 * Called once at startup, before the HTTP server exists:
 * - AUTH_DISABLED=true: a loud warning, tokens unchanged (the guard lets everything through);
 * - tokens configured: nothing to do;
 * - no tokens: use the admin token in `<dataDir>/admin-token`, creating it (random, mode 0600)
 *   at first start. The log names the file, never the token.
 * Returns the configuration to run with (a copy when a token was added).
 */
export function ensureTokens(config: AppConfig, log: Logger): AppConfig {
  if (config.auth.disabled) {
    log.warn(
      'AUTHENTICATION IS DISABLED (AUTH_DISABLED=true): anyone who can reach this port can read all drop data. Use this for local development only.',
      { auth: 'disabled' },
    );
    return config;
  }
  if (config.auth.readTokens.length + config.auth.adminTokens.length > 0) {
    log.info('API authentication enabled', {
      readTokens: config.auth.readTokens.length,
      adminTokens: config.auth.adminTokens.length,
    });
    return config;
  }
  // Nothing to protect without the API role, unless /metrics asks for a token.
  if (!config.roles.has('api') && config.auth.metricsOpen) return config;
  const file = join(config.dataDir, ADMIN_TOKEN_FILE);
  let token: string | undefined;
  try {
    token = readFileSync(file, 'utf8').trim();
    if (token.length < 16)
      throw new Error(`${file} holds no usable token (fewer than 16 characters); delete it to generate a new one`);
    log.info('API authentication: no API_READ_TOKENS/API_ADMIN_TOKENS set; using the admin token stored in the file', {
      file,
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    token = randomBytes(32).toString('base64url');
    mkdirSync(config.dataDir, { recursive: true });
    writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
    log.warn(
      'API authentication: no API_READ_TOKENS/API_ADMIN_TOKENS set; generated an admin token into the file (mode 0600)',
      {
        file,
      },
    );
  }
  return { ...config, auth: { ...config.auth, adminTokens: [token] } };
}
