import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ALERTS_API, AlertsController } from './alerts.controller.js';
import { ApiExceptionFilter } from './api-exception.filter.js';
import type { ApiDependencies } from './api-dependencies.js';
import { BearerAuthGuard } from './auth.guard.js';
import { DropsController, FlowsController } from './drops.controller.js';
import { EdgeListWarmup } from './edge-list-warmup.js';
import { PoliciesController } from './policies.controller.js';
import { SuggestionsController } from './suggestions.controller.js';
import { WhatIfController } from './what-if.controller.js';
import { AUTH_SETTINGS, DROP_EVENT_READER, EDGE_READER, POLICY_INVENTORY, ROLLUP_STATS_READER } from './tokens.js';

/**
 * The REST API (controllers only with the `api` role) plus what guards every HTTP route: the
 * bearer-token guard and the exception filter, registered globally.
 */
@Module({})
export class ApiModule {
  static register(deps: ApiDependencies): DynamicModule {
    return {
      module: ApiModule,
      controllers: deps.serveApi
        ? [
            DropsController,
            FlowsController,
            PoliciesController,
            SuggestionsController,
            WhatIfController,
            AlertsController,
          ]
        : [],
      providers: [
        { provide: DROP_EVENT_READER, useValue: deps.drops },
        { provide: EDGE_READER, useValue: deps.edges },
        { provide: ROLLUP_STATS_READER, useValue: deps.stats },
        { provide: POLICY_INVENTORY, useValue: deps.policies },
        { provide: AUTH_SETTINGS, useValue: deps.auth },
        { provide: ALERTS_API, useValue: deps.alerts },
        { provide: APP_GUARD, useClass: BearerAuthGuard },
        { provide: APP_FILTER, useValue: new ApiExceptionFilter(deps.log) },
        // The edge list's cache is warmed only where the API answers requests.
        ...(deps.serveApi ? [EdgeListWarmup] : []),
      ],
    };
  }
}
