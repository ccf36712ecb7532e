import type { GoldmaneFlow } from '../../src/collector/calico/goldmane-flow.mapper.js';

/** Goldmane Flow messages for tests: one allowed flow per call, or with `denyKey` a denied one. */
export function flow(start: number, i: number, over: Partial<NonNullable<GoldmaneFlow['Key']>> = {}): GoldmaneFlow {
  return {
    Key: {
      source_name: `client-${i}-7d4b9c8f5-*`,
      source_namespace: 'shop',
      source_type: 'WorkloadEndpoint',
      dest_name: 'checkout-6b8f9d7c45-*',
      dest_namespace: 'shop',
      dest_type: 'WorkloadEndpoint',
      dest_port: 8080,
      dest_service_name: 'checkout',
      dest_service_namespace: 'shop',
      dest_service_port_name: 'http',
      dest_service_port: 80,
      proto: 'tcp',
      reporter: 'Dst',
      action: 'Allow',
      policies: {
        enforced_policies: [
          {
            kind: 'CalicoNetworkPolicy',
            namespace: 'shop',
            name: 'allow-clients',
            tier: 'app',
            action: 'Allow',
            policy_index: 0,
            rule_index: 1,
          },
        ],
        pending_policies: [
          {
            kind: 'CalicoNetworkPolicy',
            namespace: 'shop',
            name: 'allow-clients',
            tier: 'app',
            action: 'Allow',
            policy_index: 0,
            rule_index: 1,
          },
        ],
      },
      ...over,
    },
    start_time: start,
    end_time: start + 15,
    source_labels: ['app=client', 'pod-template-hash=7d4b9c8f5'],
    dest_labels: ['app=checkout'],
    packets_in: 10 + i,
    packets_out: 8,
    bytes_in: 1000,
    bytes_out: 800,
    num_connections_started: 1,
    num_connections_completed: 1,
    num_connections_live: 2,
  };
}

export const denyKey: Partial<NonNullable<GoldmaneFlow['Key']>> = {
  reporter: 'Dst',
  action: 'Deny',
  policies: {
    enforced_policies: [
      {
        kind: 'GlobalNetworkPolicy',
        name: 'security.baseline',
        tier: 'security',
        action: 'Pass',
        policy_index: 0,
        rule_index: 0,
      },
      {
        kind: 'EndOfTier',
        tier: 'app',
        action: 'Deny',
        policy_index: 1,
        rule_index: -1,
        trigger: { kind: 'CalicoNetworkPolicy', namespace: 'shop', name: 'checkout', tier: 'app' },
      },
    ],
    pending_policies: [],
  },
};
