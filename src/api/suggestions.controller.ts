import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiConflictResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { EdgeReader } from '../storage/readers.js';
import {
  suggest,
  SUGGEST_FORMATS,
  SUGGEST_MODES,
  type SuggestFormat,
  type SuggestionResult,
  type SuggestMode,
} from '../suggest/index.js';
import { checkAgainstHistory, type HistoryCheck } from '../whatif/index.js';
import type { PolicyInventoryProvider } from './api-dependencies.js';
import { ApiErrors, QueryParams } from './api-docs.decorators.js';
import { ErrorDto } from './api.dto.js';
import { asBadInput, historyEdges, isoWindow, requireInventory } from './history-edges.js';
import { checkParams, parseEnum, parseRange, parseText, type RawQuery, type TimeRange } from './query-params.js';
import { HISTORY_WINDOW_MS, paramNames, QUERY_SCHEMAS } from './query-schemas.js';
import { EDGE_READER, POLICY_INVENTORY } from './tokens.js';

export interface SuggestionsRequest {
  range: TimeRange;
  namespace?: string;
  mode: SuggestMode;
  format: SuggestFormat;
}

export function parseSuggestions(q: RawQuery, now: number): SuggestionsRequest {
  const p = checkParams(q, paramNames(QUERY_SCHEMAS.suggestions));
  const namespace = parseText('namespace', p.namespace);
  return {
    range: parseRange(p, now, HISTORY_WINDOW_MS),
    ...(namespace !== undefined ? { namespace } : {}),
    mode: parseEnum('mode', p.mode, SUGGEST_MODES) ?? 'fix',
    format: parseEnum('format', p.format, SUGGEST_FORMATS) ?? 'k8s',
  };
}

type Item = SuggestionResult['items'][number];

/** A suggestion as the API returns it: its verification gains the what-if of it over the same history. */
export type SuggestionView = Omit<Item, 'verification'> & {
  verification: Item['verification'] & { history: HistoryCheck };
};

export interface SuggestionsView extends Omit<SuggestionResult, 'items'> {
  items: SuggestionView[];
}

@ApiTags('suggestions')
@ApiBearerAuth()
@ApiErrors()
@Controller('api/v1')
export class SuggestionsController {
  constructor(
    @Inject(EDGE_READER) private readonly edges: EdgeReader,
    @Inject(POLICY_INVENTORY) private readonly inventory: PolicyInventoryProvider,
  ) {}

  @Get('suggestions')
  @ApiOperation({
    summary:
      'Least-privilege policies learned from the stored edges of the window, as `dropscope suggest --from` prints them, ' +
      'each verified by the evaluator and replayed over the same history (verification.history)',
  })
  @QueryParams(QUERY_SCHEMAS.suggestions)
  @ApiOkResponse({
    description:
      '{mode, format, items: [{namespace, yaml, policies, covers, verification: {claimed, admitted, unverified, ' +
      'overPermission: {podPairs, examples, approximate?}, notes, history: {newlyAllowed, newlyDenied}}}], coverage, combined, notes}',
  })
  @ApiConflictResponse({ type: ErrorDto, description: 'No policy inventory is configured (code NO_POLICY_INVENTORY)' })
  async list(@Query() q: RawQuery): Promise<SuggestionsView> {
    const req = parseSuggestions(q, Date.now());
    const inventory = requireInventory(this.inventory, 'suggestions');
    const edges = await historyEdges(this.edges, inventory, req.range, req.namespace);
    const window = isoWindow(req.range);
    const result = asBadInput(() =>
      suggest(inventory, edges, { mode: req.mode, format: req.format, namespace: req.namespace, window }),
    );
    return {
      ...result,
      items: result.items.map((i) => ({
        ...i,
        verification: { ...i.verification, history: checkAgainstHistory(inventory, i.policies, edges, window) },
      })),
    };
  }
}
