/** Public API of the suggestion domain (plain TypeScript, no framework imports). */
export * from './external-peers.js';
export * from './observed-edge.js';
export * from './policy-dialects.js';
export * from './suggest.js';
export * from './suggestion-model.js';
export * from './workload-labels.js';
export * from './stored-edges.js';
