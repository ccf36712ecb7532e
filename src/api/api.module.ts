import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { RUNTIME, type Runtime } from '../app/runtime.js';
import { loadAlertingConfig } from '../alerts/alerting.service.js';
import { AlertStateRepository } from '../storage/alert-state.repository.js';
import { ALERTS_API, AlertsController } from './alerts.controller.js';
import { ApiExceptionFilter } from './api-exception.filter.js';
import { ApiQueries } from './api-queries.js';
import { BearerAuthGuard } from './auth.guard.js';
import { DropsController, FlowsController } from './drops.controller.js';
import { PoliciesController } from './policies.controller.js';
import { API_QUERIES } from './tokens.js';

/**
 * The REST API (controllers only with the `api` role) plus what guards every HTTP route: the
 * bearer-token guard and the exception filter, registered globally.
 */
@Module({})
export class ApiModule {
  static register(runtime: Runtime): DynamicModule {
    const api = runtime.config.roles.has('api');
    return {
      module: ApiModule,
      controllers: api ? [DropsController, FlowsController, PoliciesController, AlertsController] : [],
      providers: [
        { provide: RUNTIME, useValue: runtime },
        { provide: API_QUERIES, useValue: new ApiQueries(runtime.db.dataSource) },
        // Alerts API: reads alert state from the database (the alerts role may run elsewhere).
        {
          provide: ALERTS_API,
          useFactory: () => {
            const alerting = loadAlertingConfig(runtime.config);
            return { repo: new AlertStateRepository(runtime.db.dataSource), config: () => alerting };
          },
        },
        { provide: APP_GUARD, useClass: BearerAuthGuard },
        { provide: APP_FILTER, useValue: new ApiExceptionFilter(runtime.log.child({ component: 'api' })) },
      ],
    };
  }
}
