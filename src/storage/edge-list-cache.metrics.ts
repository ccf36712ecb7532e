import { Counter, Gauge, type Registry } from 'prom-client';
import type { EdgeUnitCache } from './edge-unit-cache.js';

/**
 * The edge list cache's figures, read from the cache when scraped: units looked up by result
 * (hit, miss) and the memory it holds. A low hit rate with a full budget says EDGE_LIST_CACHE_MB
 * is too small for the windows asked.
 */
export function registerEdgeListCacheMetrics(registry: Registry, cache: EdgeUnitCache): void {
  // Only one cache per registry: a second one (a test's) would count twice.
  if (registry.getSingleMetric('dropscope_edge_list_cache_units_total')) return;
  let counted = { hits: 0, misses: 0 };
  new Counter({
    name: 'dropscope_edge_list_cache_units_total',
    help: 'Units of a window the edge list looked up in its cache, by result (hit: served from memory, miss: read from the database).',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      const s = cache.stats();
      this.inc({ result: 'hit' }, s.hits - counted.hits);
      this.inc({ result: 'miss' }, s.misses - counted.misses);
      counted = { hits: s.hits, misses: s.misses };
    },
  });
  new Gauge({
    name: 'dropscope_edge_list_cache_bytes',
    help: 'Memory the edge list cache holds (kept units and their edge ids), estimated; at most EDGE_LIST_CACHE_MB.',
    registers: [registry],
    collect() {
      this.set(cache.stats().bytes);
    },
  });
}
