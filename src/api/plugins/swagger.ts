import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

export const OPENAPI_INFO = {
  title: 'MTL service',
  description:
    'Multi-task learning as a service: upload a dataset, train one model with a head per task as a queued job, ' +
    'and get every task\'s prediction from one forward pass. Errors are application/problem+json.',
  version: '0.1.0',
};

/** OpenAPI document from the route schemas, and Swagger UI at /docs. */
async function docs(app: FastifyInstance) {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: OPENAPI_INFO,
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key from API_KEYS (admin or predict role). Not needed when the server runs without API_KEYS.' } } },
      security: [{ apiKey: [] }],
      tags: [
        { name: 'datasets', description: 'Upload and inspect training data' },
        { name: 'jobs', description: 'Queued training jobs' },
        { name: 'models', description: 'Trained models and prediction' },
        { name: 'inference (v2)', description: 'The Open Inference Protocol (KServe v2 / Triton) REST API over the same models; errors are {"error": "…"}' },
        { name: 'health', description: 'Liveness and readiness' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list', deepLinking: true } });
}

export default fp(docs, { name: 'docs' });
