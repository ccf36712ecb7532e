import { InitialSchema1763770000000 } from './1763770000000-InitialSchema.js';

/** All migrations in order. Listed explicitly: ESM builds cannot glob-require migration files. */
export const MIGRATIONS = [InitialSchema1763770000000];
