/**
 * Worker-thread entry of SegmentWorkerPool: maps the segments it is sent (JSON.parse and the
 * line mapper, the costly part of an import), folds their records as the aggregator would
 * (segment-fold.ts) and posts back the folded form, which is much cheaper to pass back than the
 * records.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { mapperFromSpec, type MapperSpec } from './line-mappers.js';
import { SegmentFolder } from './segment-fold.js';
import { mapSegment, type Segment } from './segment-mapping.js';

const { spec, stream, attributeHere } = workerData as { spec: MapperSpec; stream: string; attributeHere: boolean };

parentPort?.on('message', (m: { id: number; segment: Segment }) => {
  try {
    const folder = new SegmentFolder(stream, Date.now(), attributeHere);
    const result = mapSegment(m.segment, mapperFromSpec(spec), stream, (f) => folder.add(f));
    result.prefolded = folder.finish();
    parentPort?.postMessage({ id: m.id, result });
  } catch (e) {
    parentPort?.postMessage({ id: m.id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  }
});
