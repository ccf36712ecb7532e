/**
 * Loads the project's Hubble .proto files (proto/ at the repo root) with @grpc/proto-loader.
 * From src/collector/hubble/*.ts the repo root is three levels up; from the compiled
 * dist/src/collector/hubble/*.js it is four (dist/ is one more level), so both are tried.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';

function findProtoDir(): string {
  const candidates = ['../../../proto/', '../../../../proto/'].map((rel) =>
    fileURLToPath(new URL(rel, import.meta.url)),
  );
  return candidates.find((dir) => existsSync(`${dir}observer/observer.proto`)) ?? candidates[0];
}

export const HUBBLE_PROTO_DIR = findProtoDir();

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
