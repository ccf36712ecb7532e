import { Module, type DynamicModule } from '@nestjs/common';
import { apiDependenciesFrom } from '../api/api-dependencies.js';
import { ApiModule } from '../api/api.module.js';
import { HealthController, READINESS } from '../health/health.controller.js';
import { MetricsController } from '../metrics/metrics.controller.js';
import { RUNTIME, type Runtime } from './runtime.js';

@Module({})
export class AppModule {
  static register(runtime: Runtime): DynamicModule {
    return {
      module: AppModule,
      imports: [ApiModule.register(apiDependenciesFrom(runtime))],
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: RUNTIME, useValue: runtime },
        { provide: READINESS, useValue: runtime.readiness },
      ],
    };
  }
}
