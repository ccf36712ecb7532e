import type { Registry } from 'prom-client';
import type { FlowAttributor } from '../aggregator/attribution.port.js';
import { reportedOnlyAttributor } from '../aggregator/attribution.port.js';
import type { FlowBus } from '../bus/flow-bus.js';
import { InProcessFlowBus } from '../bus/in-process-flow.bus.js';
import type { Logger } from '../common/logger.js';
import type { AppConfig } from '../config/config.js';
import type { PolicyInventorySource } from '../policy/policy-inventory.js';
import type { CheckpointStore } from '../storage/ports.js';

/** Kafka when KAFKA_BROKERS is set, else the in-process bus (embedded default). */
export async function createBus(
  config: AppConfig,
  registry: Registry,
  log: Logger,
  checkpoints: CheckpointStore,
  onFatalError: (e: Error) => void,
): Promise<FlowBus> {
  const k = config.kafka;
  if (!k) return new InProcessFlowBus(50_000, log.child({ component: 'bus' }));
  // Loaded only here: `import` and the in-process bus need none of Kafka's client.
  const { KafkaFlowBus } = await import('../bus/kafka-flow.bus.js');
  const tls = k.tls
    ? {
        caFile: k.tlsFiles.caFile,
        certFile: k.tlsFiles.certFile,
        keyFile: k.tlsFiles.keyFile,
        servername: k.tlsFiles.serverName,
      }
    : false;
  return new KafkaFlowBus({
    brokers: k.brokers,
    topic: k.topic,
    dlqTopic: k.dlqTopic,
    clientId: k.clientId,
    groupId: k.groupId,
    ssl: tls,
    sasl: k.sasl,
    compression: k.compression,
    createTopics: k.createTopics,
    numPartitions: k.numPartitions,
    sessionTimeout: k.sessionTimeoutMs,
    heartbeatInterval: k.heartbeatIntervalMs,
    dedupWindow: k.dedupWindow,
    maxWaitTimeInMs: k.maxWaitMs,
    partitionsConsumedConcurrently: k.concurrentPartitions,
    logger: log.child({ component: 'kafka' }),
    registry,
    // In Kafka mode a collector's position is durable once the broker has its batch.
    onPublished: (c) => checkpoints.save(c),
    onFatalError,
  });
}

/**
 * The policy inventory (POLICY_MANIFESTS files, and the Kubernetes API when POLICY_KUBERNETES is
 * on: both merged, the API winning on the same object) and the attributor over it; reported-only
 * without either.
 */
export async function createAttribution(
  config: AppConfig,
  log: Logger,
  registry?: Registry,
): Promise<{ attributor: FlowAttributor; policies?: PolicyInventorySource }> {
  const k8s = config.policyKubernetes;
  if (!k8s && config.policyManifests.length === 0) return { attributor: reportedOnlyAttributor };
  // Loaded only with an inventory: an import or a service without one does not pay for the
  // evaluator, the manifest parser and the Kubernetes client at start.
  const { InventoryFlowAttributor } = await import('../policy/attribution.js');
  if (k8s) {
    const { CombinedInventorySource } = await import('../policy/kubernetes-watch.js');
    const policies = new CombinedInventorySource({
      paths: config.policyManifests,
      logger: log.child({ component: 'policy-inventory' }),
      kubernetes: {
        apiUrl: k8s.apiUrl,
        tokenFile: k8s.tokenFile,
        caFile: k8s.caFile,
        registry,
        snapshotIntervalMs: k8s.snapshotIntervalMs,
      },
      readyTimeoutMs: k8s.readyTimeoutMs,
    });
    await policies.start();
    return { attributor: new InventoryFlowAttributor(policies), policies };
  }
  const { PolicyInventorySource } = await import('../policy/policy-inventory.js');
  const policies = new PolicyInventorySource({
    paths: config.policyManifests,
    logger: log.child({ component: 'policy-inventory' }),
  });
  await policies.start();
  return { attributor: new InventoryFlowAttributor(policies), policies };
}
