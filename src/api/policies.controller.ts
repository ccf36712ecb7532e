import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { parseProbeObject, runProbes, type ParsedProbe, type ProbeResult } from '../policy/policy-test.js';
import type { DropEventReader, DropItem, RollupStatsReader } from '../storage/readers.js';
import type { PolicyInventoryProvider } from './api-dependencies.js';
import { ApiErrors, JsonBody, QueryParams } from './api-docs.decorators.js';
import { NoPolicyInventoryError, NotFoundError } from './api-errors.js';
import { ErrorDto, PolicyDetailDto, PolicyListDto, PolicyTestResponseDto } from './api.dto.js';
import { checkPathName, parsePolicyDetail, parsePolicyList } from './api-requests.js';
import { RequireScope } from './auth.guard.js';
import { DROP_VERDICTS, type DropFilters } from './drop-filters.js';
import { NO_INVENTORY_NOTE, findPolicies, listPolicyViews, policyView, type PolicyView } from './policies-view.js';
import { encodeOffsetCursor, type RawQuery, type TimeRange } from './query-params.js';
import { BODY_SCHEMAS, QUERY_SCHEMAS } from './query-schemas.js';
import { checkBody, type JsonObject } from './request-body.js';
import { DROP_EVENT_READER, POLICY_INVENTORY, ROLLUP_STATS_READER } from './tokens.js';

function windowFilters(range: TimeRange): DropFilters {
  return { ...range, verdict: [...DROP_VERDICTS] };
}

/** The probes of a POST /api/v1/policy-test body (BODY_SCHEMAS.policyTest), each parsed as the CLI parses one. */
export function parsePolicyTestBody(body: unknown): ParsedProbe[] {
  const probes = checkBody(body, BODY_SCHEMAS.policyTest).probes as JsonObject[];
  return probes.map((p, i) => parseProbeObject(p, `probes[${i}].`));
}

export interface PolicyList {
  items: PolicyView[];
  nextCursor: string | null;
  note?: string;
  from: string;
  to: string;
}

export type PolicyDetail = PolicyView & { spec: object | null; recentDrops: DropItem[] };

@ApiTags('policies')
@ApiBearerAuth()
@ApiErrors()
@Controller('api/v1')
export class PoliciesController {
  constructor(
    @Inject(ROLLUP_STATS_READER) private readonly stats: RollupStatsReader,
    @Inject(DROP_EVENT_READER) private readonly events: DropEventReader,
    @Inject(POLICY_INVENTORY) private readonly inventory: PolicyInventoryProvider,
  ) {}

  @Get('policies')
  @ApiOperation({ summary: 'The policy inventory, each policy with the drops attributed to it in the window' })
  @QueryParams(QUERY_SCHEMAS.policies)
  @ApiOkResponse({ type: PolicyListDto })
  async list(@Query() q: RawQuery): Promise<PolicyList> {
    const { range, limit, offset } = parsePolicyList(q, Date.now());
    const stats = await this.stats.policyDropStats(windowFilters(range));
    const inventory = this.inventory.current();
    // The views are sorted (most drops first, then ref), so an offset into them is a stable page.
    const all = listPolicyViews(inventory, stats);
    const out: PolicyList = {
      items: all.slice(offset, offset + limit),
      nextCursor: offset + limit < all.length ? encodeOffsetCursor(offset + limit) : null,
      from: new Date(range.from).toISOString(),
      to: new Date(range.to).toISOString(),
    };
    if (!inventory) out.note = NO_INVENTORY_NOTE;
    return out;
  }

  @Get('policies/:namespace/:name')
  @ApiOperation({ summary: 'One namespaced policy: its spec, drop counts and recent drop events' })
  @ApiParam({ name: 'namespace', type: String, description: 'The policy namespace' })
  @ApiParam({ name: 'name', type: String, description: 'The policy name' })
  @QueryParams(QUERY_SCHEMAS.policyDetail)
  @ApiOkResponse({ type: PolicyDetailDto })
  @ApiNotFoundResponse({
    type: ErrorDto,
    description: 'Neither in the inventory nor named by drops in the window (code NOT_FOUND)',
  })
  async namespaced(
    @Param('namespace') namespace: string,
    @Param('name') name: string,
    @Query() q: RawQuery,
  ): Promise<PolicyDetail> {
    return this.detail(`${checkPathName('namespace', namespace)}/${checkPathName('name', name)}`, q);
  }

  @Get('policies/:name')
  @ApiOperation({ summary: 'One cluster-wide policy (CiliumClusterwideNetworkPolicy, GlobalNetworkPolicy)' })
  @ApiParam({ name: 'name', type: String, description: 'The policy name' })
  @QueryParams(QUERY_SCHEMAS.policyDetail)
  @ApiOkResponse({ type: PolicyDetailDto })
  @ApiNotFoundResponse({ type: ErrorDto, description: 'code NOT_FOUND' })
  async clusterWide(@Param('name') name: string, @Query() q: RawQuery): Promise<PolicyDetail> {
    return this.detail(checkPathName('name', name), q);
  }

  private async detail(ref: string, q: RawQuery): Promise<PolicyDetail> {
    const { range, recent } = parsePolicyDetail(q, Date.now());
    const f = windowFilters(range);
    const objects = findPolicies(this.inventory.current(), ref);
    const stats = (await this.stats.policyDropStats(f, ref)).get(ref);
    if (objects.length === 0 && !stats)
      throw new NotFoundError(
        `policy ${ref}: not in the policy inventory and no drops attributed to it between ${new Date(range.from).toISOString()} and ${new Date(range.to).toISOString()}`,
      );
    const recentDrops = (await this.events.listDrops({ ...f, policy: ref }, recent)).items;
    return { ...policyView(ref, objects, stats), recentDrops };
  }

  @Post('policy-test')
  @HttpCode(200)
  @RequireScope('read')
  @ApiOperation({
    summary: 'Evaluate probes (from, to, port, protocol) against the policy inventory, as `dropscope policy-test` does',
  })
  @JsonBody(BODY_SCHEMAS.policyTest)
  @ApiOkResponse({ type: PolicyTestResponseDto })
  @ApiConflictResponse({ type: ErrorDto, description: 'No policy inventory is configured (code NO_POLICY_INVENTORY)' })
  policyTest(@Body() body: unknown): { items: ProbeResult[] } {
    const probes = parsePolicyTestBody(body ?? {});
    const inventory = this.inventory.current();
    if (!inventory) throw new NoPolicyInventoryError('policy-test');
    return { items: runProbes(inventory, probes, (i) => `probes[${i}].`) };
  }
}
