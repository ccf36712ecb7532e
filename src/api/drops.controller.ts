import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import {
  SUMMARY_BY,
  STEPS,
  type ApiQueries,
  type DropItem,
  type Page,
  type SummaryItem,
  type TimeseriesPoint,
} from './api-queries.js';
import { LIMITS, parseDropList, parseEdges, parseSummary, parseTimeseries } from './api-requests.js';
import { ApiErrors, FilterQueries } from './api-docs.decorators.js';
import { DropListDto, EdgeListDto, SummaryDto, TimeseriesDto } from './api.dto.js';
import { API_QUERIES } from './tokens.js';
import type { EdgeItem } from './api-queries.js';
import type { RawQuery } from './query-params.js';

@ApiTags('drops')
@ApiBearerAuth()
@ApiErrors()
@Controller('api/v1/drops')
export class DropsController {
  constructor(@Inject(API_QUERIES) private readonly queries: ApiQueries) {}

  @Get()
  @ApiOperation({ summary: 'Drop events (denied, dropped, audit), newest first, cursor-paginated' })
  @FilterQueries({ pods: true })
  @ApiQuery({
    name: 'limit',
    required: false,
    type: Number,
    description: `Page size, 1-${LIMITS.drops.max}, default ${LIMITS.drops.def}`,
  })
  @ApiQuery({ name: 'cursor', required: false, type: String, description: 'The nextCursor of the previous page' })
  @ApiOkResponse({ type: DropListDto })
  async list(@Query() q: RawQuery): Promise<Page<DropItem>> {
    const r = parseDropList(q, Date.now());
    return this.queries.listDrops(r.filters, r.limit, r.cursor);
  }

  @Get('summary')
  @ApiOperation({ summary: 'Top drop groups by flow count, from the per-minute roll-ups' })
  @FilterQueries()
  @ApiQuery({ name: 'by', required: false, enum: [...SUMMARY_BY], type: String, description: 'Grouping, default edge' })
  @ApiQuery({
    name: 'limit',
    required: false,
    type: Number,
    description: `Top N, 1-${LIMITS.summary.max}, default ${LIMITS.summary.def}`,
  })
  @ApiOkResponse({ type: SummaryDto })
  async summary(@Query() q: RawQuery): Promise<{ by: string; items: SummaryItem[] }> {
    const r = parseSummary(q, Date.now());
    return this.queries.summary(r.filters, r.by, r.limit);
  }

  @Get('timeseries')
  @ApiOperation({ summary: 'Drop counts per step (zero-filled), split by verdict, for charts' })
  @FilterQueries()
  @ApiQuery({
    name: 'step',
    required: false,
    enum: Object.keys(STEPS),
    type: String,
    description: 'Bucket width; default chosen from the range (1m up to 6h, 5m up to 24h, 1h up to 14d, else 1d)',
  })
  @ApiOkResponse({ type: TimeseriesDto })
  async timeseries(@Query() q: RawQuery): Promise<{ step: string; items: TimeseriesPoint[] }> {
    const r = parseTimeseries(q, Date.now());
    return this.queries.timeseries(r.filters, r.step);
  }
}

@ApiTags('flows')
@ApiBearerAuth()
@ApiErrors()
@Controller('api/v1/flows')
export class FlowsController {
  constructor(@Inject(API_QUERIES) private readonly queries: ApiQueries) {}

  @Get('edges')
  @ApiOperation({ summary: 'Observed edges (allowed and denied) for a window: the input of suggestions' })
  @FilterQueries({ flows: true })
  @ApiQuery({
    name: 'limit',
    required: false,
    type: Number,
    description: `Page size, 1-${LIMITS.edges.max}, default ${LIMITS.edges.def}`,
  })
  @ApiQuery({ name: 'cursor', required: false, type: String, description: 'The nextCursor of the previous page' })
  @ApiOkResponse({ type: EdgeListDto })
  async edges(@Query() q: RawQuery): Promise<Page<EdgeItem>> {
    const r = parseEdges(q, Date.now());
    return this.queries.edges(r.filters, r.limit, r.cursor);
  }
}
