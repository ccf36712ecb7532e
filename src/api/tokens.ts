/** Nest injection tokens of the API module (see api-dependencies.ts for what each stands for). */
export const DROP_EVENT_READER = Symbol('DROP_EVENT_READER');
export const EDGE_READER = Symbol('EDGE_READER');
export const ROLLUP_STATS_READER = Symbol('ROLLUP_STATS_READER');
export const POLICY_INVENTORY = Symbol('POLICY_INVENTORY');
export const AUTH_SETTINGS = Symbol('AUTH_SETTINGS');
