/** Public API of the what-if domain (plain TypeScript, no framework imports). */
export * from './edge-source.js';
export * from './proposal.js';
export * from './what-if.js';
export * from './what-if-table.js';
export * from './proposal-objects.js';
export * from './history-check.js';
