import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { EdgeReader } from '../storage/readers.js';
import { parseEdges } from './api-requests.js';
import { EDGE_READER } from './tokens.js';

/**
 * Warms the edge list's cache with the default window (`/flows/edges` without parameters: the
 * last 24 h, every verdict) once the API starts, so that the first requests after a start or a
 * deploy are answered from kept units instead of reading every row; windows inside it with the
 * same filters share its units. At shutdown, waits for a background read still running, so that
 * it does not outlive the database connection.
 */
@Injectable()
export class EdgeListWarmup implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(@Inject(EDGE_READER) private readonly edges: EdgeReader) {}

  onApplicationBootstrap(): void {
    this.edges.warm?.(parseEdges({}, Date.now()).filters);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.edges.settled?.();
  }
}
