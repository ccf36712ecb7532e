import { InitialSchema1763770000000 } from './1763770000000-InitialSchema.js';
import { ApiIndexes1763900000000 } from './1763900000000-ApiIndexes.js';

/** All migrations in order. Listed explicitly: ESM builds cannot glob-require migration files. */
export const MIGRATIONS = [InitialSchema1763770000000, ApiIndexes1763900000000];
