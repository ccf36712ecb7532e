/** Public API of the policy domain (plain TypeScript, no framework imports). */
export * from './attribution.js';
export * from './calico-selector.js';
export * from './cidr.js';
export * from './flow-endpoints.js';
export * from './kubernetes-watch.js';
export * from './label-selector.js';
export * from './lru-cache.js';
export * from './manifest.loader.js';
export { normalizeObject, NAMESPACE_NAME_LABEL, isValidPortName, type NormalizeResult } from './manifest.normalize.js';
export * from './network-policy.evaluator.js';
export * from './policy-inventory.js';
export * from './policy-model.js';
export * from './policy-test.js';
