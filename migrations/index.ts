import { InitialSchema1763770000000 } from './1763770000000-InitialSchema.js';
import { ApiIndexes1763900000000 } from './1763900000000-ApiIndexes.js';
import { PolicyArrays1764000000000 } from './1764000000000-PolicyArrays.js';
import { Alerts1764100000000 } from './1764100000000-Alerts.js';
import { CheckpointGenerations1764250000000 } from './1764250000000-CheckpointGenerations.js';
import { HourlyRollups1764300000000 } from './1764300000000-HourlyRollups.js';
import { FiveMinuteRollups1764400000000 } from './1764400000000-FiveMinuteRollups.js';
import { HourlyTotals1764500000000 } from './1764500000000-HourlyTotals.js';
import { FourHourRollups1764600000000 } from './1764600000000-FourHourRollups.js';
import { FifteenMinuteRollups1764700000000 } from './1764700000000-FifteenMinuteRollups.js';
import { DropRowMinuteIndexes1764800000000 } from './1764800000000-DropRowMinuteIndexes.js';
import { EdgeIds1764900000000 } from './1764900000000-EdgeIds.js';
import { RollupGenerations1765000000000 } from './1765000000000-RollupGenerations.js';
import { DropRowFiveMinuteIndexes1765100000000 } from './1765100000000-DropRowFiveMinuteIndexes.js';

/** All migrations in order. Listed explicitly: ESM builds cannot glob-require migration files. */
export const MIGRATIONS = [
  InitialSchema1763770000000,
  ApiIndexes1763900000000,
  PolicyArrays1764000000000,
  Alerts1764100000000,
  CheckpointGenerations1764250000000,
  HourlyRollups1764300000000,
  FiveMinuteRollups1764400000000,
  HourlyTotals1764500000000,
  FourHourRollups1764600000000,
  FifteenMinuteRollups1764700000000,
  DropRowMinuteIndexes1764800000000,
  EdgeIds1764900000000,
  RollupGenerations1765000000000,
  DropRowFiveMinuteIndexes1765100000000,
];
