import { Inject, Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request, Response } from 'express';
import { HealthController } from '../health/health.controller.js';
import { MetricsController } from '../metrics/metrics.controller.js';
import type { AuthSettings } from './api-dependencies.js';
import { ApiError } from './api-errors.js';
import { TokenVerifier, bearerToken, satisfies, type Requirement } from './auth.js';
import { AUTH_SETTINGS } from './tokens.js';

const SCOPE_KEY = 'dropscope:scope';

/** Overrides the default requirement of a handler (GET/HEAD: read, other methods: admin). */
export const RequireScope = (r: Requirement): MethodDecorator & ClassDecorator => SetMetadata(SCOPE_KEY, r);

/**
 * The global guard: bearer tokens with two scopes. /healthz and /readyz are open, /metrics is open
 * unless METRICS_AUTH=true, everything else needs a token; AUTH_DISABLED=true lets all through.
 * (/docs and /docs-json are served outside Nest routing and stay open.)
 */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  private readonly verifier: TokenVerifier;

  constructor(@Inject(AUTH_SETTINGS) private readonly auth: AuthSettings) {
    this.verifier = new TokenVerifier(auth.readTokens, auth.adminTokens);
  }

  requirement(ctx: ExecutionContext, method: string): Requirement {
    const cls = ctx.getClass();
    if (cls === HealthController) return 'open';
    if (cls === MetricsController) return this.auth.metricsOpen ? 'open' : 'read';
    const declared =
      (Reflect.getMetadata(SCOPE_KEY, ctx.getHandler()) as Requirement | undefined) ??
      (Reflect.getMetadata(SCOPE_KEY, cls) as Requirement | undefined);
    if (declared) return declared;
    return method === 'GET' || method === 'HEAD' ? 'read' : 'admin';
  }

  canActivate(ctx: ExecutionContext): boolean {
    if (this.auth.disabled) return true;
    const http = ctx.switchToHttp();
    const req = http.getRequest<Request>();
    const required = this.requirement(ctx, req.method);
    if (required === 'open') return true;
    const token = bearerToken(req.headers.authorization);
    const res = http.getResponse<Response>();
    if (token === undefined) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="dropscope"');
      throw new ApiError('UNAUTHORIZED', 'authorization: send a bearer token (Authorization: Bearer <token>)');
    }
    const scope = this.verifier.scopeOf(token);
    if (scope === undefined) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="dropscope", error="invalid_token"');
      throw new ApiError('UNAUTHORIZED', 'authorization: the bearer token is not valid');
    }
    if (!satisfies(scope, required))
      throw new ApiError('FORBIDDEN', `authorization: this operation needs a token with the ${required} scope`);
    return true;
  }
}
