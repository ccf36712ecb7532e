/**
 * Worker-thread entry of SegmentWorkerPool: maps the segments it is sent (JSON.parse and the
 * line mapper, the costly part of an import), folds their records as the aggregator would
 * (segment-fold.ts) and posts back the folded form, which is much cheaper to pass back than the
 * records.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DropEventSampler } from '../aggregator/drop-event-sampler.js';
import { mapperFromSpec, type MapperSpec } from './line-mappers.js';
import { SegmentFolder } from './segment-fold.js';
import { mapSegment, type Segment } from './segment-mapping.js';

const { spec, stream, attributeHere, dropEventsPerRow } = workerData as {
  spec: MapperSpec;
  stream: string;
  attributeHere: boolean;
  /** DROP_EVENTS_PER_EDGE_MINUTE (0: every event). */
  dropEventsPerRow: number;
};
// One for the thread's life: the segments it is sent are parts of the same minutes.
const sampler = dropEventsPerRow > 0 ? new DropEventSampler(dropEventsPerRow) : undefined;

parentPort?.on('message', (m: { id: number; segment: Segment }) => {
  try {
    const folder = new SegmentFolder(stream, Date.now(), attributeHere, sampler);
    const result = mapSegment(m.segment, mapperFromSpec(spec), stream, (f) => folder.add(f));
    const prefolded = folder.finish();
    result.prefolded = prefolded;
    // The drop events' bytes are handed over, not copied (this thread is done with them).
    parentPort?.postMessage({ id: m.id, result }, [prefolded.events.buffer as ArrayBuffer]);
  } catch (e) {
    parentPort?.postMessage({ id: m.id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  }
});
