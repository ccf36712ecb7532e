/** The text parseFlowTime parsed last, and its result. */
let lastText = '';
let lastMs = NaN;

/**
 * Date.parse of a flow's time, remembering the last one: a record's time is parsed by the mapper,
 * the validator, the fold and the roll-up in turn, the same string each time, so the repeats
 * cost a comparison of two references instead of a parse.
 */
export function parseFlowTime(text: string): number {
  if (text !== lastText) {
    lastMs = Date.parse(text);
    lastText = text;
  }
  return lastMs;
}
