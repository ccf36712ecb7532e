import {
  BadRequestException,
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  Post,
  Put,
  Query,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import { AlertRuleError, effectiveRules, matchersField, parseRule, ruleToJson } from '../alerts/alert-rules.js';
import type { AlertingConfig } from '../alerts/alerting-config.js';
import { parseDuration } from '../config/duration.js';
import type { AlertStateRepository } from '../storage/alert-state.repository.js';
import { RequireScope } from './auth.guard.js';
import { QueryParams } from './api-docs.decorators.js';
import { checkParams, type RawQuery } from './query-params.js';
import { paramNames, QUERY_SCHEMAS } from './query-schemas.js';

/** PostgreSQL text cannot hold NUL, so no stored rule or silence has such an id: 404, not a failed query. */
function storable(id: string): boolean {
  return !id.includes('\u0000');
}

/** Injection token: `{ repo: AlertStateRepository; config: () => AlertingConfig }`. */
export const ALERTS_API = Symbol('ALERTS_API');

/** What the alerts API reads and changes: a slice of the alert-state repository. */
export type AlertsApiRepository = Pick<
  AlertStateRepository,
  'listAlerts' | 'apiRules' | 'putRule' | 'deleteRule' | 'listSilences' | 'addSilence' | 'expireSilence'
>;

export interface AlertsApiDeps {
  repo: AlertsApiRepository;
  config: () => AlertingConfig;
}

function ruleError(e: unknown): never {
  if (e instanceof AlertRuleError) throw new BadRequestException(e.message);
  throw e;
}

/** Alerts (read), silences (read; admin to change) and alert rules (admin), under /api/v1. */
@ApiTags('alerts')
@ApiBearerAuth()
@Controller('api/v1')
export class AlertsController {
  constructor(@Inject(ALERTS_API) private readonly deps: AlertsApiDeps) {}

  @Get('alerts')
  @ApiOperation({ summary: 'Firing and resolved alerts, newest first, each with its history' })
  @QueryParams(QUERY_SCHEMAS.alerts)
  async alerts(@Query() q: RawQuery): Promise<{ items: unknown[]; nextCursor: null }> {
    const p = checkParams(q, paramNames(QUERY_SCHEMAS.alerts));
    if (p.status !== undefined && !['pending', 'firing', 'resolved'].includes(p.status))
      throw new BadRequestException('status: must be pending, firing or resolved');
    const limit = p.limit === undefined ? 100 : Number(p.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new BadRequestException('limit: must be an integer from 1 to 1000');
    const items = await this.deps.repo.listAlerts({ status: p.status, fingerprint: p.fingerprint, limit });
    return {
      items: items.map((a) => ({
        fingerprint: a.fingerprint,
        rule: a.ruleId,
        status: a.status,
        labels: a.labels,
        annotations: a.annotations,
        count: a.count,
        activeAt: new Date(a.activeAt).toISOString(),
        firedAt: a.firedAt === undefined ? null : new Date(a.firedAt).toISOString(),
        resolvedAt: a.resolvedAt === undefined ? null : new Date(a.resolvedAt).toISOString(),
        lastSeen: new Date(a.lastSeen).toISOString(),
        history: a.history,
      })),
      nextCursor: null,
    };
  }

  @Get('alert-rules')
  @RequireScope('admin')
  @ApiOperation({ summary: 'The effective rules: built-in, rules file and API rules (admin scope)' })
  @QueryParams(QUERY_SCHEMAS.alertRules)
  async rules(@Query() q: RawQuery): Promise<{ items: unknown[]; nextCursor: null }> {
    checkParams(q, paramNames(QUERY_SCHEMAS.alertRules));
    const rules = effectiveRules(this.deps.config().rules, await this.deps.repo.apiRules());
    return { items: rules.map(ruleToJson), nextCursor: null };
  }

  @Put('alert-rules/:id')
  @ApiOperation({ summary: 'Create or replace an API rule (admin scope)' })
  async putRule(@Param('id') id: string, @Body() body: unknown): Promise<unknown> {
    if (this.deps.config().rules.some((r) => r.id === id))
      throw new BadRequestException(`rule ${id} is defined in ALERT_RULES_FILE; change it there`);
    const spec = { ...(typeof body === 'object' && body !== null ? body : {}), id };
    let rule;
    try {
      rule = parseRule(spec, 'body', 'api');
    } catch (e) {
      ruleError(e);
    }
    await this.deps.repo.putRule(id, spec);
    return ruleToJson(rule);
  }

  @Delete('alert-rules/:id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete an API rule (admin scope); its alerts resolve' })
  async deleteRule(@Param('id') id: string): Promise<void> {
    if (!storable(id) || !(await this.deps.repo.deleteRule(id)))
      throw new NotFoundException(`alert rule ${id}: no such API rule`);
  }

  @Get('silences')
  @ApiOperation({ summary: 'Active and pending silences (expired=true adds expired ones)' })
  @QueryParams(QUERY_SCHEMAS.silences)
  async silences(@Query() q: RawQuery): Promise<{ items: unknown[]; nextCursor: null }> {
    const p = checkParams(q, paramNames(QUERY_SCHEMAS.silences));
    const items = await this.deps.repo.listSilences(Date.now(), p.expired === 'true');
    return {
      items: items.map((s) => ({
        ...s,
        startsAt: new Date(s.startsAt).toISOString(),
        endsAt: new Date(s.endsAt).toISOString(),
      })),
      nextCursor: null,
    };
  }

  @Post('silences')
  @ApiOperation({ summary: 'Create a silence: matchers plus endsAt or duration (admin scope)' })
  async addSilence(@Body() body: unknown): Promise<{ id: string }> {
    const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    let matchers;
    try {
      matchers = matchersField(b.matchers, 'matchers');
    } catch (e) {
      ruleError(e);
    }
    if (matchers.length === 0) throw new BadRequestException('matchers: at least one matcher is required');
    const now = Date.now();
    const startsAt = typeof b.startsAt === 'string' ? Date.parse(b.startsAt) : now;
    const endsAt =
      typeof b.endsAt === 'string'
        ? Date.parse(b.endsAt)
        : typeof b.duration === 'string'
          ? startsAt + (parseDuration(b.duration) ?? NaN)
          : NaN;
    if (Number.isNaN(startsAt)) throw new BadRequestException('startsAt: must be an RFC 3339 time');
    if (Number.isNaN(endsAt) || endsAt <= startsAt)
      throw new BadRequestException('endsAt: must be an RFC 3339 time after startsAt (or give duration, e.g. 2h)');
    const id = randomUUID();
    await this.deps.repo.addSilence({
      id,
      matchers,
      startsAt,
      endsAt,
      createdBy: typeof b.createdBy === 'string' ? b.createdBy : '',
      comment: typeof b.comment === 'string' ? b.comment : '',
    });
    return { id };
  }

  @Delete('silences/:id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Expire a silence now (admin scope)' })
  async expireSilence(@Param('id') id: string): Promise<void> {
    if (!storable(id) || !(await this.deps.repo.expireSilence(id, Date.now())))
      throw new NotFoundException(`silence ${id}: not found`);
  }
}
