/**
 * Worker-thread entry of SegmentWorkerPool: maps the segments it is sent (JSON.parse and the
 * line mapper, the costly part of an import) and posts their results back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { mapperFromSpec, type MapperSpec } from './line-mappers.js';
import { mapSegment, type Segment } from './segment-mapping.js';

const { spec, stream } = workerData as { spec: MapperSpec; stream: string };

parentPort?.on('message', (m: { id: number; segment: Segment }) => {
  try {
    parentPort?.postMessage({ id: m.id, result: mapSegment(m.segment, mapperFromSpec(spec), stream) });
  } catch (e) {
    parentPort?.postMessage({ id: m.id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  }
});
