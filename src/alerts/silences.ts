/** Silences: matchers with a time span; a matching alert is not notified while one is active. */
import { matchesAll, type Labels, type Matcher } from './matchers.js';

export interface Silence {
  id: string;
  matchers: Matcher[];
  startsAt: number;
  endsAt: number;
  createdBy: string;
  comment: string;
}

export function silenceActive(s: Silence, now: number): boolean {
  return s.startsAt <= now && now < s.endsAt;
}

/** The ids of the active silences that mute an alert with these labels. */
export function silencedBy(silences: readonly Silence[], labels: Labels, now: number): string[] {
  return silences.filter((s) => silenceActive(s, now) && matchesAll(s.matchers, labels)).map((s) => s.id);
}
