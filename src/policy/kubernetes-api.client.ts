/**
 * A minimal Kubernetes API client on `node:http`/`node:https` (no client library): GET requests
 * and streamed answers against the API server, a bearer token re-read periodically from its file
 * (projected service-account tokens rotate; the token is never logged), a CA bundle for TLS, and
 * Status messages of non-2xx answers as KubernetesApiError.
 */
import { promises as fs } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Logger } from '../common/logger.js';
import { isRecord } from './manifest.normalize.js';

/** In-cluster service-account files (the defaults of KUBERNETES_TOKEN_FILE / KUBERNETES_CA_FILE). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
export const IN_CLUSTER_TOKEN_FILE = `${SERVICE_ACCOUNT_DIR}/token`;
export const IN_CLUSTER_CA_FILE = `${SERVICE_ACCOUNT_DIR}/ca.crt`;

/** A non-2xx answer from the API server. */
export class KubernetesApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'KubernetesApiError';
  }
}

export interface KubernetesApiClientOptions {
  /** API server base URL, e.g. `https://10.96.0.1:443` (a path prefix is kept). */
  apiUrl: string;
  /** Bearer token file, re-read every `tokenRefreshMs` and after `invalidateToken()`. */
  tokenFile?: string;
  /** A fixed bearer token (tests, tools); `tokenFile` is preferred. */
  token?: string;
  /** PEM CA bundle for the API server certificate; system CAs when absent. */
  caFile?: string;
  /** How often to re-read the token file (default 60 s). */
  tokenRefreshMs?: number;
  /** Request timeout when the caller gives none (default 60 s). */
  requestTimeoutMs?: number;
  /** Largest answer `readAll` accepts (default 64 MiB). */
  maxBodyBytes?: number;
  /** Aborts every request. */
  signal?: AbortSignal;
  logger: Logger;
}

export class KubernetesApiClient {
  readonly base: URL;
  private agent: http.Agent | undefined;
  private caLoaded: Promise<void> | undefined;
  private token: string | undefined;
  private tokenReadAt = 0;
  private tokenWarned = false;
  private readonly logger: Logger;

  constructor(private readonly options: KubernetesApiClientOptions) {
    this.base = new URL(options.apiUrl);
    if (this.base.protocol !== 'https:' && this.base.protocol !== 'http:')
      throw new Error(`Kubernetes API URL must be http(s), got ${this.base.protocol}`);
    this.logger = options.logger;
  }

  /** Re-read the token file before the next request (after a 401). */
  invalidateToken(): void {
    this.tokenReadAt = 0;
  }

  /** Close kept-alive connections. */
  destroy(): void {
    this.agent?.destroy();
  }

  private async bearer(): Promise<string | undefined> {
    if (this.options.token !== undefined) return this.options.token;
    const file = this.options.tokenFile;
    if (file === undefined) return undefined;
    const now = Date.now();
    if (this.token === undefined || now - this.tokenReadAt >= (this.options.tokenRefreshMs ?? 60_000)) {
      try {
        const t = (await fs.readFile(file, 'utf8')).trim();
        if (t !== '') this.token = t;
        this.tokenReadAt = now;
        this.tokenWarned = false;
      } catch (e) {
        if (!this.tokenWarned) {
          this.tokenWarned = true;
          this.logger.warn('cannot read the Kubernetes token file; using the last token read', {
            file,
            error: (e as NodeJS.ErrnoException).code ?? 'error',
          });
        }
      }
    }
    return this.token;
  }

  private async ensureAgent(): Promise<void> {
    if (this.agent) return;
    this.caLoaded ??= (async () => {
      if (this.base.protocol === 'http:') {
        this.agent = new http.Agent({ keepAlive: true });
        return;
      }
      const ca = this.options.caFile ? await fs.readFile(this.options.caFile) : undefined;
      this.agent = new https.Agent({ keepAlive: true, ca });
    })().finally(() => (this.caLoaded = undefined));
    await this.caLoaded;
  }

  /** GET `path` under the base URL; a non-200 answer throws KubernetesApiError with its Status message. */
  async get(
    path: string,
    params: Record<string, string>,
    streaming: boolean,
    idleTimeoutMs?: number,
  ): Promise<http.IncomingMessage> {
    await this.ensureAgent();
    const url = new URL(this.base.toString());
    url.pathname = this.base.pathname.replace(/\/+$/, '') + path;
    url.search = new URLSearchParams(params).toString();
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': 'dropscope' };
    const token = await this.bearer();
    if (token !== undefined) headers.Authorization = `Bearer ${token}`;
    const mod = url.protocol === 'https:' ? https : http;
    const timeout = idleTimeoutMs ?? this.options.requestTimeoutMs ?? 60_000;
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = mod.request(url, { method: 'GET', headers, agent: this.agent, signal: this.options.signal }, resolve);
      req.setTimeout(timeout, () => req.destroy(new Error(`no answer from ${url.pathname} within ${timeout} ms`)));
      req.on('error', reject);
      req.end();
    });
    if (res.statusCode !== 200) {
      let detail = '';
      try {
        const text = await this.readAll(res, 64 * 1024);
        const status: unknown = JSON.parse(text);
        if (isRecord(status) && typeof status.message === 'string') detail = `: ${status.message.slice(0, 300)}`;
      } catch {
        // no Status body
      }
      throw new KubernetesApiError(
        res.statusCode ?? 0,
        `${streaming ? 'WATCH' : 'LIST'} ${path}: HTTP ${res.statusCode}${detail}`,
      );
    }
    return res;
  }

  /** The whole body as text, at most `max` bytes. */
  async readAll(res: http.IncomingMessage, max = this.options.maxBodyBytes ?? 64 * 1024 * 1024): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of res as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > max) {
        res.destroy();
        throw new Error(`answer larger than ${max} bytes`);
      }
      chunks.push(c);
    }
    return Buffer.concat(chunks).toString('utf8');
  }
}
