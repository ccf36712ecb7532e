import { Body, Controller, HttpCode, Inject, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiConflictResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { InventoryObject, PolicyInventory } from '../policy/index.js';
import type { EdgeReader } from '../storage/readers.js';
import { proposalObjects, whatIf, type Proposal, type WhatIfResult } from '../whatif/index.js';
import type { PolicyInventoryProvider } from './api-dependencies.js';
import { ApiErrors, JsonBody } from './api-docs.decorators.js';
import { ApiInputError } from './api-errors.js';
import { ErrorDto } from './api.dto.js';
import { RequireScope } from './auth.guard.js';
import { asBadInput, historyEdges, isoWindow, requireInventory } from './history-edges.js';
import { parsePolicyRef, parseRange, parseText, type TimeRange } from './query-params.js';
import { BODY_SCHEMAS, HISTORY_WINDOW_MS } from './query-schemas.js';
import { checkBody } from './request-body.js';
import { EDGE_READER, POLICY_INVENTORY } from './tokens.js';

export interface WhatIfRequest {
  /** YAML text or objects, parsed once the inventory is known to exist. */
  add?: unknown;
  remove: string[];
  staged: boolean;
  range: TimeRange;
  namespace?: string;
}

function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new ApiInputError(field, 'must be a string');
  return v;
}

export function parseWhatIfBody(body: unknown, now: number): WhatIfRequest {
  const b = checkBody(body, BODY_SCHEMAS.whatIf);
  if (b.add !== undefined && typeof b.add !== 'string' && !Array.isArray(b.add))
    throw new ApiInputError('add', 'must be YAML text or a list of Kubernetes objects');
  const remove = b.remove ?? [];
  if (!Array.isArray(remove)) throw new ApiInputError('remove', 'must be a list of "namespace/name" strings');
  const refs = remove.map((r, i) => {
    if (typeof r !== 'string') throw new ApiInputError(`remove[${i}]`, 'must be a string "namespace/name"');
    return parsePolicyRef(`remove[${i}]`, r) as string;
  });
  if (b.staged !== undefined && typeof b.staged !== 'boolean')
    throw new ApiInputError('staged', 'must be true or false');
  const from = optionalString(b, 'from');
  const to = optionalString(b, 'to');
  const namespace = parseText('namespace', optionalString(b, 'namespace'));
  const nothing = (b.add === undefined || (Array.isArray(b.add) && b.add.length === 0)) && refs.length === 0;
  if (nothing && b.staged !== true)
    throw new ApiInputError('body', 'nothing proposed: give add, remove or "staged": true');
  return {
    ...(b.add !== undefined ? { add: b.add } : {}),
    remove: refs,
    staged: b.staged === true,
    range: parseRange(
      { ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) },
      now,
      HISTORY_WINDOW_MS,
    ),
    ...(namespace !== undefined ? { namespace } : {}),
  };
}

function proposalOf(req: WhatIfRequest, inventory: PolicyInventory): Proposal {
  const added: InventoryObject[] = req.add !== undefined ? proposalObjects(req.add, 'add') : [];
  if (typeof req.add === 'string' && added.length === 0)
    throw new ApiInputError('add', 'holds no policy (YAML of NetworkPolicy, Cilium or Calico policies)');
  return { add: [...added, ...(req.staged ? inventory.staged : [])], remove: req.remove };
}

@ApiTags('policies')
@ApiBearerAuth()
@ApiErrors()
@Controller('api/v1')
export class WhatIfController {
  constructor(
    @Inject(EDGE_READER) private readonly edges: EdgeReader,
    @Inject(POLICY_INVENTORY) private readonly inventory: PolicyInventoryProvider,
  ) {}

  @Post('what-if')
  @HttpCode(200)
  // It changes nothing: a read, whatever the method.
  @RequireScope('read')
  @ApiOperation({
    summary:
      'Replay the stored edges of the window against a proposed change of the policy inventory, as `dropscope what-if --from` does',
  })
  @JsonBody(BODY_SCHEMAS.whatIf)
  @ApiOkResponse({
    description:
      '{window, summary: {edges, newlyDenied, newlyAllowed, unchanged, uncertain}, proposal: {added, replaced, removed}, ' +
      'items: [{src, dst, dstPort, protocol, count, lastSeen, observed, before, after, deniedBy, allowedBy, reason}]}',
  })
  @ApiConflictResponse({ type: ErrorDto, description: 'No policy inventory is configured (code NO_POLICY_INVENTORY)' })
  async whatIf(@Body() body: unknown): Promise<WhatIfResult> {
    const req = parseWhatIfBody(body ?? {}, Date.now());
    const inventory = requireInventory(this.inventory, 'what-if');
    const proposal = asBadInput(() => proposalOf(req, inventory));
    const edges = await historyEdges(this.edges, inventory, req.range, req.namespace);
    return asBadInput(() =>
      whatIf(inventory, proposal, edges, {
        window: isoWindow(req.range),
        ...(req.namespace !== undefined ? { namespace: req.namespace } : {}),
      }),
    );
  }
}
