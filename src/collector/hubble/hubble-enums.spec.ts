import { describe, expect, it } from '@jest/globals';
import { enumLabel, LOST_EVENT_SOURCE_NAMES, NODE_STATE_NAMES } from './hubble-enums.js';

describe('enum metric labels', () => {
  it('keeps known names (lower-cased) and maps anything else to other', () => {
    expect(enumLabel('HUBBLE_RING_BUFFER', LOST_EVENT_SOURCE_NAMES)).toBe('hubble_ring_buffer');
    expect(enumLabel('NODE_CONNECTED', NODE_STATE_NAMES)).toBe('node_connected');
    // An unknown enum number arrives as its decimal string; a hostile string as itself.
    expect(enumLabel('57', LOST_EVENT_SOURCE_NAMES)).toBe('other');
    expect(enumLabel('x'.repeat(4096), NODE_STATE_NAMES)).toBe('other');
  });
});
