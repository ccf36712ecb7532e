import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { RUNTIME, type Runtime } from '../app/runtime.js';

@ApiExcludeController()
@Controller()
export class MetricsController {
  constructor(@Inject(RUNTIME) private readonly rt: Runtime) {}

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  async metrics(@Res() res: Response): Promise<void> {
    res.setHeader('Content-Type', this.rt.registry.contentType);
    res.send(await this.rt.registry.metrics());
  }
}
