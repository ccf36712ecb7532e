import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type {
  DropEventReader,
  DropItem,
  EdgeItem,
  EdgeReader,
  RollupStatsReader,
  SummaryItem,
  Timeseries,
} from '../storage/readers.js';
import { ApiErrors, QueryParams } from './api-docs.decorators.js';
import { DropListDto, EdgeListDto, SummaryDto, TimeseriesDto } from './api.dto.js';
import { parseDropList, parseEdges, parseSummary, parseTimeseries } from './api-requests.js';
import { encodeDropCursor, encodeOffsetCursor, type RawQuery } from './query-params.js';
import { QUERY_SCHEMAS } from './query-schemas.js';
import { DROP_EVENT_READER, EDGE_READER, ROLLUP_STATS_READER } from './tokens.js';

/** A page as the API returns it: the items and an opaque cursor for the next page. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

@ApiTags('drops')
@ApiBearerAuth()
@ApiErrors()
@Controller('api/v1/drops')
export class DropsController {
  constructor(
    @Inject(DROP_EVENT_READER) private readonly events: DropEventReader,
    @Inject(ROLLUP_STATS_READER) private readonly stats: RollupStatsReader,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Drop events (denied, dropped, audit), newest first, cursor-paginated' })
  @QueryParams(QUERY_SCHEMAS.drops)
  @ApiOkResponse({ type: DropListDto })
  async list(@Query() q: RawQuery): Promise<Page<DropItem>> {
    const r = parseDropList(q, Date.now());
    const page = await this.events.listDrops(r.filters, r.limit, r.after);
    return { items: page.items, nextCursor: page.next ? encodeDropCursor(page.next) : null };
  }

  @Get('summary')
  @ApiOperation({ summary: 'Top drop groups by flow count, from the per-minute roll-ups' })
  @QueryParams(QUERY_SCHEMAS.summary)
  @ApiOkResponse({ type: SummaryDto })
  async summary(@Query() q: RawQuery): Promise<{ by: string; items: SummaryItem[] }> {
    const r = parseSummary(q, Date.now());
    return this.stats.summary(r.filters, r.by, r.limit);
  }

  @Get('timeseries')
  @ApiOperation({ summary: 'Drop counts per step (zero-filled), split by verdict, for charts' })
  @QueryParams(QUERY_SCHEMAS.timeseries)
  @ApiOkResponse({ type: TimeseriesDto })
  async timeseries(@Query() q: RawQuery): Promise<Timeseries> {
    const r = parseTimeseries(q, Date.now());
    return this.stats.timeseries(r.filters, r.step);
  }
}

@ApiTags('flows')
@ApiBearerAuth()
@ApiErrors()
@Controller('api/v1/flows')
export class FlowsController {
  constructor(@Inject(EDGE_READER) private readonly edgeReader: EdgeReader) {}

  @Get('edges')
  @ApiOperation({ summary: 'Observed edges (allowed and denied) for a window: the input of suggestions' })
  @QueryParams(QUERY_SCHEMAS.edges)
  @ApiOkResponse({ type: EdgeListDto })
  async edges(@Query() q: RawQuery): Promise<Page<EdgeItem>> {
    const r = parseEdges(q, Date.now());
    const page = await this.edgeReader.edges(r.filters, r.limit, r.offset);
    return { items: page.items, nextCursor: page.next !== null ? encodeOffsetCursor(page.next) : null };
  }
}
