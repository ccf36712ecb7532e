import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** A fresh registry with process metrics and `dropscope_build_info`. One per service (and per test). */
export function createMetricsRegistry(version: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'dropscope_build_info',
    help: 'Build information; always 1.',
    labelNames: ['version'],
    registers: [registry],
  }).set({ version }, 1);
  return registry;
}

/** Returns the metric already registered under `name`, or registers the one `make` builds. */
export function metric<T extends Counter<string> | Gauge<string> | Histogram<string>>(
  registry: Registry,
  name: string,
  make: () => T,
): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}
