/**
 * The aggregator's view of attribution. One contract for the whole code base, defined with the
 * policy domain (src/policy/attribution.contract.ts): the types, the reported-level rule and the
 * attributor used when no policy inventory is configured.
 */
export {
  policyRef,
  reportedOnlyAttributor,
  type Attribution,
  type AttributionLevel,
  type FlowAttributor,
} from '../policy/attribution.contract.js';
