import { Controller, Get, HttpCode, HttpException, HttpStatus, Inject } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';

/** What /readyz asks: each check's generic state (`ok`, `down`, ...) by name. */
export type Readiness = () => Promise<Record<string, string>>;
export const READINESS = Symbol('READINESS');

/**
 * Liveness never touches dependencies; readiness checks the database, the schema and the
 * collectors, and answers generic states only (details are logged, see ReadinessChecks).
 */
@ApiExcludeController()
@Controller()
export class HealthController {
  constructor(@Inject(READINESS) private readonly readiness: Readiness) {}

  @Get('healthz')
  @HttpCode(200)
  healthz(): { status: string } {
    return { status: 'ok' };
  }

  @Get('readyz')
  async readyz(): Promise<{ status: string; checks: Record<string, string> }> {
    const checks = await this.readiness();
    const ok = Object.values(checks).every((v) => v === 'ok');
    if (!ok) throw new HttpException({ status: 'not ready', checks }, HttpStatus.SERVICE_UNAVAILABLE);
    return { status: 'ok', checks };
  }
}
