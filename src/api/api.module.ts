import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { RUNTIME, type Runtime } from '../app/runtime.js';
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
      controllers: api ? [DropsController, FlowsController, PoliciesController] : [],
      providers: [
        { provide: RUNTIME, useValue: runtime },
        { provide: API_QUERIES, useValue: new ApiQueries(runtime.db.dataSource) },
        { provide: APP_GUARD, useClass: BearerAuthGuard },
        { provide: APP_FILTER, useValue: new ApiExceptionFilter(runtime.log.child({ component: 'api' })) },
      ],
    };
  }
}
