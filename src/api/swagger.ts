import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import { version } from '../common/version.js';

/** OpenAPI generated from the controllers: UI at /docs, JSON at /docs-json (both open). */
export function setupApiDocs(app: INestApplication): void {
  const config = new DocumentBuilder()
    .setTitle('Dropscope API')
    .setDescription(
      'Kubernetes network-policy drops: events, summaries, time series, observed edges, policies and policy tests. ' +
        'Bearer tokens: API_READ_TOKENS (read) and API_ADMIN_TOKENS (everything). Errors carry a stable `code`. See docs/API.md.',
    )
    .setVersion(version())
    // The tokens are opaque random strings, not JWTs (Nest's default bearerFormat).
    .addBearerAuth({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'opaque',
      description: 'A token from API_READ_TOKENS or API_ADMIN_TOKENS',
    })
    .build();
  const document = SwaggerModule.createDocument(app, config);
  // The UI page loads its assets by relative URL, which break under /docs/: send it to /docs.
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (req.path !== '/docs/' || (req.method !== 'GET' && req.method !== 'HEAD')) return next();
    const q = req.originalUrl.indexOf('?');
    res.redirect(301, `/docs${q >= 0 ? req.originalUrl.slice(q) : ''}`);
  });
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}
