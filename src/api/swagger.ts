import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { version } from '../common/version.js';

/** OpenAPI generated from the controllers: UI at /docs, JSON at /docs-json (both open). */
export function setupApiDocs(app: INestApplication): void {
  const config = new DocumentBuilder()
    .setTitle('Dropscope API')
    .setDescription(
      'Kubernetes network-policy drops: events, summaries, time series, observed edges, policies and policy tests. ' +
        'Bearer tokens: API_READ_TOKENS (read) and API_ADMIN_TOKENS (everything). See docs/API.md.',
    )
    .setVersion(version())
    .addBearerAuth()
    .build();
  const document = SwaggerModule.createDocument(app, config);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}
