/**
 * Policies of a proposal given as data rather than files (the API's `add`, a suggestion's rendered
 * objects): YAML or JSON text, or a list of objects, read by the same manifest parser as files.
 */
import { formatManifestIssue, parseManifestText, type InventoryObject } from '../policy/index.js';
import { WhatIfInputError } from './proposal.js';

/** Objects to add; `what` names the input in errors (`add`, `add[2]`). */
export function proposalObjects(input: unknown, what: string): InventoryObject[] {
  let texts: Array<[string, string]>;
  if (typeof input === 'string') texts = [[input, what]];
  else if (Array.isArray(input))
    texts = input.map((o, i) => {
      if (typeof o !== 'object' || o === null || Array.isArray(o))
        throw new WhatIfInputError(`${what}[${i}]: must be a Kubernetes object (kind, metadata, spec)`);
      // JSON is YAML: one parser for text and objects.
      return [JSON.stringify(o), `${what}[${i}]`];
    });
  else throw new WhatIfInputError(`${what}: must be YAML text or a list of Kubernetes objects`);
  const objects: InventoryObject[] = [];
  for (const [text, name] of texts) {
    const loaded = parseManifestText(text, name);
    const errors = loaded.issues.filter((i) => i.severity === 'error');
    if (errors.length > 0) throw new WhatIfInputError(errors.map(formatManifestIssue).join('; '));
    objects.push(...loaded.objects);
  }
  return objects;
}
