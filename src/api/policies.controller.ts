import {
  Body,
  ConflictException,
  Controller,
  Get,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  Post,
  Query,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import { RUNTIME, type Runtime } from '../app/runtime.js';
import { policyTestFromBody, type ProbeResult } from '../policy/policy-test.js';
import type { PolicyInventory } from '../policy/policy-inventory.js';
import { ApiErrors, TimeRangeQueries } from './api-docs.decorators.js';
import { ErrorDto, PolicyDetailDto, PolicyListDto, PolicyTestRequestDto, PolicyTestResponseDto } from './api.dto.js';
import type { ApiQueries, DropItem } from './api-queries.js';
import { LIMITS, checkPathName, parsePolicyDetail, parsePolicyWindow } from './api-requests.js';
import { RequireScope } from './auth.guard.js';
import { DROP_VERDICTS, type DropFilters } from './drop-filters.js';
import { NO_INVENTORY_NOTE, findPolicies, listPolicyViews, policyView, type PolicyView } from './policies-view.js';
import type { RawQuery, TimeRange } from './query-params.js';
import { API_QUERIES } from './tokens.js';

function windowFilters(range: TimeRange): DropFilters {
  return { ...range, verdict: [...DROP_VERDICTS] };
}

@ApiTags('policies')
@ApiBearerAuth()
@ApiErrors()
@Controller('api/v1')
export class PoliciesController {
  constructor(
    @Inject(API_QUERIES) private readonly queries: ApiQueries,
    @Inject(RUNTIME) private readonly rt: Runtime,
  ) {}

  private inventory(): PolicyInventory | undefined {
    return this.rt.policies?.current();
  }

  @Get('policies')
  @ApiOperation({ summary: 'The policy inventory, each policy with the drops attributed to it in the window' })
  @TimeRangeQueries()
  @ApiOkResponse({ type: PolicyListDto })
  async list(
    @Query() q: RawQuery,
  ): Promise<{ items: PolicyView[]; nextCursor: null; note?: string; from: string; to: string }> {
    const { range } = parsePolicyWindow(q, Date.now());
    const stats = await this.queries.policyDropStats(windowFilters(range));
    const inventory = this.inventory();
    const out: { items: PolicyView[]; nextCursor: null; note?: string; from: string; to: string } = {
      items: listPolicyViews(inventory, stats),
      nextCursor: null,
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
  @TimeRangeQueries()
  @ApiQuery({
    name: 'recent',
    required: false,
    type: Number,
    description: `Recent drop events to include, 1-${LIMITS.recentDrops.max}, default ${LIMITS.recentDrops.def}`,
  })
  @ApiOkResponse({ type: PolicyDetailDto })
  @ApiNotFoundResponse({ type: ErrorDto, description: 'Neither in the inventory nor named by drops in the window' })
  async namespaced(
    @Param('namespace') namespace: string,
    @Param('name') name: string,
    @Query() q: RawQuery,
  ): Promise<PolicyView & { spec: object | null; recentDrops: DropItem[] }> {
    return this.detail(`${checkPathName('namespace', namespace)}/${checkPathName('name', name)}`, q);
  }

  @Get('policies/:name')
  @ApiOperation({ summary: 'One cluster-wide policy (CiliumClusterwideNetworkPolicy, GlobalNetworkPolicy)' })
  @ApiParam({ name: 'name', type: String, description: 'The policy name' })
  @TimeRangeQueries()
  @ApiQuery({
    name: 'recent',
    required: false,
    type: Number,
    description: `Recent drop events to include, 1-${LIMITS.recentDrops.max}`,
  })
  @ApiOkResponse({ type: PolicyDetailDto })
  @ApiNotFoundResponse({ type: ErrorDto })
  async clusterWide(
    @Param('name') name: string,
    @Query() q: RawQuery,
  ): Promise<PolicyView & { spec: object | null; recentDrops: DropItem[] }> {
    return this.detail(checkPathName('name', name), q);
  }

  private async detail(
    ref: string,
    q: RawQuery,
  ): Promise<PolicyView & { spec: object | null; recentDrops: DropItem[] }> {
    const { range, recent } = parsePolicyDetail(q, Date.now());
    const f = windowFilters(range);
    const objects = findPolicies(this.inventory(), ref);
    const stats = (await this.queries.policyDropStats(f, ref)).get(ref);
    if (objects.length === 0 && !stats)
      throw new NotFoundException(
        `policy ${ref}: not in the policy inventory and no drops attributed to it between ${new Date(range.from).toISOString()} and ${new Date(range.to).toISOString()}`,
      );
    const recentDrops = (await this.queries.listDrops({ ...f, policy: ref }, recent)).items;
    return { ...policyView(ref, objects, stats), recentDrops };
  }

  @Post('policy-test')
  @HttpCode(200)
  @RequireScope('read')
  @ApiOperation({
    summary: 'Evaluate probes (from, to, port, protocol) against the policy inventory, as `dropscope policy-test` does',
  })
  @ApiBody({ type: PolicyTestRequestDto })
  @ApiOkResponse({ type: PolicyTestResponseDto })
  @ApiConflictResponse({ type: ErrorDto, description: 'No policy inventory is configured' })
  policyTest(@Body() body: unknown): { items: ProbeResult[] } {
    const inventory = this.inventory();
    if (!inventory)
      throw new ConflictException(
        'policy-test: no policy inventory is configured on this server; set POLICY_MANIFESTS to the manifest files or folders',
      );
    return policyTestFromBody(inventory, body ?? {});
  }
}
