/**
 * When a load step "holds", from the lag sampled during it. Lag = flows written to the source but
 * not yet committed to edge_rollups. Commits come in batches, so the lag is a saw-tooth; its
 * trough (the lowest sample in each second of the step) is what is left right after a commit,
 * and a pipeline that keeps up has troughs that do not rise. A step holds when both:
 *  - the trough of its last whole second is at most `maxEndLagSeconds` of the offered rate, and
 *  - the trough rose by at most `maxGrowth` seconds of lag per second of step, from the step's
 *    second second (the first is the ramp from an empty pipeline) to its last whole second;
 *    0.1 means the pipeline committed at least 90 % of the offered rate over that span.
 */

export interface LagSample {
  /** Milliseconds since the step began. */
  atMs: number;
  /** Flows written but not committed. */
  lag: number;
}

export interface HoldCriteria {
  maxEndLagSeconds: number;
  maxGrowth: number;
}

export const DEFAULT_HOLD: HoldCriteria = { maxEndLagSeconds: 1, maxGrowth: 0.1 };

export interface StepVerdict {
  /** Trough of the last whole second, in seconds of the offered rate. */
  endLagSeconds: number;
  /** Rise of the trough per second of step, in seconds of lag (0 or less: not growing). */
  growth: number;
  held: boolean;
}

/** Judges one step of `stepMs` at `rate` flows/s; needs at least 3 whole seconds of samples. */
export function judgeStep(
  samples: LagSample[],
  rate: number,
  stepMs: number,
  criteria: HoldCriteria = DEFAULT_HOLD,
): StepVerdict {
  const seconds = Math.floor(stepMs / 1000);
  if (seconds < 3) throw new Error(`a step must last at least 3 s to judge its lag (got ${stepMs} ms)`);
  const trough = (k: number): number => {
    const inWindow = samples.filter((s) => s.atMs >= k * 1000 && s.atMs < (k + 1) * 1000).map((s) => s.lag);
    if (inWindow.length === 0) throw new Error(`no lag sample in second ${k} of the step`);
    return Math.min(...inWindow);
  };
  const first = 1;
  const last = seconds - 1;
  const endLagSeconds = trough(last) / rate;
  const growth = (trough(last) - trough(first)) / rate / (last - first);
  return {
    endLagSeconds,
    growth,
    held: endLagSeconds <= criteria.maxEndLagSeconds && growth <= criteria.maxGrowth,
  };
}

/** Nearest-rank percentile (p in 0..100); NaN for no values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((s.length * p) / 100) - 1))];
}
