// The launcher is shared with the Kafka-path benchmark, which the build compiles (test/ it does not).
export {
  startKafkaMockCluster,
  type KafkaMockCluster,
  type KafkaMockClusterOptions,
} from '../../bench/kafka-mock-cluster.js';
