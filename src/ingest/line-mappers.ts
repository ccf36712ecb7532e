import { CalicoLineMapper } from '../collector/calico/calico-flow-log.mapper.js';
import type { LineMapper } from '../collector/collector.js';
import { HubbleLineMapper } from '../collector/hubble/hubble-line.mapper.js';
import { retimedMapper } from './retime.js';

export const FILE_SOURCES = ['hubble', 'calico'] as const;
export type FileSource = (typeof FILE_SOURCES)[number];

export function isFileSource(s: string): s is FileSource {
  return (FILE_SOURCES as readonly string[]).includes(s);
}

/**
 * The line mapper for a file format: `hubble observe -o json` lines or Calico flows.log lines.
 * `cluster` names the cluster for records that do not carry one.
 */
export function createLineMapper(source: FileSource, cluster: string): LineMapper {
  return source === 'hubble' ? new HubbleLineMapper({ defaultCluster: cluster }) : new CalicoLineMapper({ cluster });
}

/** A line mapper as plain data, so a worker thread can build its own. */
export interface MapperSpec {
  source: FileSource;
  cluster: string;
  /** Added to every flow's time (`import --retime`). */
  retimeOffsetMs?: number;
}

export function mapperFromSpec(spec: MapperSpec): LineMapper {
  const m = createLineMapper(spec.source, spec.cluster);
  return spec.retimeOffsetMs === undefined ? m : retimedMapper(m, spec.retimeOffsetMs);
}
