/** `2025-07-15T01:30:19.361221854Z` → seconds and nanos, parsed here by hand (not by the code under test). */
export function checkpointParts(position: string | undefined): { seconds: number; nanos: number } {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{9})Z$/.exec(position ?? '');
  if (!m) throw new Error(`not a checkpoint: ${position}`);
  return { seconds: Date.parse(`${m[1]}Z`) / 1000, nanos: Number(m[2]) };
}

/** A request's `since` as decoded by the fake Relay (int64 seconds may arrive as a string). */
export function sinceParts(since: unknown): { seconds: number; nanos: number } {
  const s = since as { seconds?: unknown; nanos?: unknown } | undefined;
  return { seconds: Number(s?.seconds ?? NaN), nanos: Number(s?.nanos ?? 0) };
}
