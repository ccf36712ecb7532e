/**
 * Loads the project's Hubble .proto files (proto/ at the repo root) with @grpc/proto-loader.
 * `new URL('../../../proto/', import.meta.url)` reaches the repo's proto/ from both
 * src/collector/hubble/*.ts and dist/src/collector/hubble/*.js.
 */
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';

export const HUBBLE_PROTO_DIR = fileURLToPath(new URL('../../../proto/', import.meta.url));

/** Decoding options the mapper is written against (see hubble-flow.mapper.ts). */
export const HUBBLE_PROTO_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: [HUBBLE_PROTO_DIR],
};

let cached: protoLoader.PackageDefinition | undefined;

/** The `observer` package definition (with `flow` and `relay`), loaded once per process. */
export function loadObserverPackage(): protoLoader.PackageDefinition {
  cached ??= protoLoader.loadSync('observer/observer.proto', HUBBLE_PROTO_OPTIONS);
  return cached;
}
