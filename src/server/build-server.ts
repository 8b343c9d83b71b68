import type { Writable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import type { TesseraConfig } from '../config/defaults.js';
import { Coordinator, type CoordinatorUrls } from '../coordinator/coordinator.js';
import { hashSecret } from '../coordinator/secret-token.js';
import type { Keyring } from '../keys/keyring.js';
import { registerOidcRoutes } from '../oidc/routes.js';
import type { Store } from '../store/open-store.js';
import { registerWebRoutes } from '../web/register-web-routes.js';
import { compileOnFirstUse } from './compile-on-first-use.js';
import { installErrorHandler } from './error-handler.js';
import {
  applyGitLabParamSemantics,
  parseGitLabParams,
  parseGitLabQuery,
  parseMultipartParams,
} from './gitlab-params.js';
import { type PrecompiledValidators, precompiledValidatorFactory } from './precompiled-validator-factory.js';
import { RateLimiter } from './rate-limiter.js';
import { RequestLogController } from './request-log-controller.js';
import { registerAccessTokenRoutes } from './routes/access-tokens.js';
import { registerAdminRoutes } from './routes/admin.js';
import { registerArtifactRunnerRoutes } from './routes/artifacts-runner.js';
import { registerCiLintRoutes } from './routes/ci-lint.js';
import { registerDeploymentRoutes } from './routes/deployments.js';
import { registerGroupRoutes } from './routes/groups.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerIdTokenPreviewRoutes } from './routes/id-token-preview.js';
import { registerIdTokenRoutes } from './routes/id-tokens.js';
import { registerInstanceMetadataRoutes } from './routes/instance-metadata.js';
import { registerJobArtifactRoutes } from './routes/job-artifacts.js';
import { registerJobRoutes } from './routes/jobs.js';
import { registerMemberRoutes } from './routes/members.js';
import { registerMetricsRoutes } from './routes/metrics.js';
import { registerMirrorRoutes } from './routes/mirror.js';
import { registerOpenApiRoute } from './routes/openapi.js';
import { registerPipelineScheduleRoutes } from './routes/pipeline-schedules.js';
import { registerPipelineRoutes } from './routes/pipelines.js';
import { registerProjectRoutes } from './routes/projects.js';
import { registerProtectionRoutes } from './routes/protection.js';
import { registerReleaseRoutes } from './routes/releases.js';
import { registerResourceGroupRoutes } from './routes/resource-groups.js';
import { registerRunnerProtocolRoutes } from './routes/runner-protocol.js';
import { registerRunnerRoutes } from './routes/runners.js';
import { registerTestReportRoutes } from './routes/test-reports.js';
import { registerTriggerRoutes } from './routes/triggers.js';
import { registerUserRoutes } from './routes/users.js';
import { registerVariableRoutes } from './routes/variables.js';
import type { ServerContext } from './server-context.js';
import { standaloneValidatorFactory } from './standalone-validator-factory.js';

/** What {@link buildServer} needs besides the configuration. */
export interface ServerDeps {
  store: Store;
  keyring: Keyring;
  /** Defaults to the configured issuer and its origin. */
  urls?: CoordinatorUrls;
  clock?: () => number;
  /** Where JSON log lines go (default stdout). */
  logStream?: Writable;
  /**
   * Compile request validators on each route's first call, not at start (see {@link compileOnFirstUse}),
   * and without checking them against the meta-schema: for a short-lived embedded coordinator.
   */
  compileSchemasOnFirstUse?: boolean;
  /**
   * Request validators generated at build time (`dist/validators/validators.cjs`, see
   * `loadPrecompiledValidators`): a route part uses the one generated from its very schema and Ajv
   * options, and compiles (at start, or on first use) when there is none.
   */
  precompiledValidators?: PrecompiledValidators;
  /**
   * The build step that generates those validators: every route part's validator is compiled at
   * `ready()` and its key and Ajv standalone code are handed here. Not with the other two options.
   */
  storeValidatorCode?: (key: string, code: string) => void;
  /**
   * `false` serves only what runners and jobs call (the runner protocol, ID tokens, discovery,
   * JWKS, introspection, health), not the API v4 for people (users, groups, projects, pipelines,
   * jobs, runners, admin, metrics): `tessera run`, whose only personal access token never leaves
   * the process, so nobody could call those routes. Default true.
   */
  api?: boolean;
  /**
   * Secrets the operator configured (from the environment, never from the config file or the
   * command line): `introspectionToken` lets a relying party call introspection without a personal
   * access token, `metricsToken` lets a scraper outside `metricsAllow` read `/metrics`. Only their
   * hashes are kept.
   */
  secrets?: { introspectionToken?: string | undefined; metricsToken?: string | undefined };
}

/** A built server and the coordinator behind it. */
export interface BuiltServer {
  app: FastifyInstance;
  coordinator: Coordinator;
}

/** The hash of a configured secret, or undefined when it is unset or empty. */
function hashOptionalSecret(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : hashSecret(value);
}

/** Paths whose query string may carry something sensitive, or is too noisy: logged without it. */
function loggedUrl(url: string): string {
  const question = url.indexOf('?');
  return question === -1 ? url : `${url.slice(0, question)}?[REDACTED]`;
}

/**
 * Builds the coordinator's HTTP server (Fastify) without listening: every route of the API v4,
 * the runner protocol, on-demand ID tokens, OIDC discovery and JWKS, health. `listen` is the
 * caller's (see `src/cli/serve.ts`); tests call `app.inject` or listen on 127.0.0.1:0.
 *
 * Request logs carry method, path and status, never a header or a query string, so no token can
 * reach them.
 */
export function buildServer(config: TesseraConfig, deps: ServerDeps): BuiltServer {
  const urls = deps.urls ?? { issuer: config.issuer, serverUrl: new URL(config.issuer).origin };
  const coordinator = new Coordinator({
    config,
    store: deps.store,
    keyring: deps.keyring,
    urls,
    ...(deps.clock ? { clock: deps.clock } : {}),
  });
  const logger = pino(
    {
      level: config.logLevel,
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers["private-token"]',
          'req.headers["job-token"]',
          '*.token',
          'token',
        ],
        censor: '[REDACTED]',
      },
      serializers: {
        req: (req: { method: string; url: string; ip?: string }) => ({
          method: req.method,
          url: loggedUrl(req.url),
          remoteAddress: req.ip,
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    },
    deps.logStream ?? process.stdout,
  );
  if (deps.storeValidatorCode && (deps.compileSchemasOnFirstUse || deps.precompiledValidators)) {
    throw new TypeError(
      'storeValidatorCode compiles every validator itself: not with the other validator options',
    );
  }
  const buildValidator = deps.storeValidatorCode
    ? standaloneValidatorFactory(deps.storeValidatorCode)
    : deps.precompiledValidators && precompiledValidatorFactory(deps.precompiledValidators);
  // The pino logger type is narrower than Fastify's default; routes only need the base instance.
  const app = Fastify({
    loggerInstance: logger,
    logController: new RequestLogController(),
    bodyLimit: 8 * 1024 * 1024,
    // Long polls hold a request up to jobRequestWait seconds; keep sockets well past that.
    keepAliveTimeout: 75_000,
    // GitLab's nested parameters (`tag_list[]=a`, `variables[KEY]=v`) in the query string too.
    routerOptions: { querystringParser: parseGitLabQuery },
    ajv: {
      customOptions: {
        coerceTypes: 'array',
        removeAdditional: false,
        allErrors: false,
        // Checking each schema against JSON Schema's meta-schema first compiles the meta-schema
        // (about 25 ms). An embedded coordinator skips it: every `tessera serve` start and the tests
        // check the same schemas.
        ...(deps.compileSchemasOnFirstUse ? { validateSchema: false } : {}),
      },
      plugins: deps.compileSchemasOnFirstUse ? [compileOnFirstUse] : [],
    },
    // Without precompiled validators Fastify's default stays in place, untouched.
    ...(buildValidator ? { schemaController: { compilersFactory: { buildValidator } } } : {}),
  }) as unknown as FastifyInstance;
  // GitLab's API takes form bodies as well as JSON (curl --form), nested as GitLab nests them; the
  // introspection endpoint needs them too.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 1024 * 1024 },
    (_request, body, done) => {
      try {
        done(null, parseGitLabParams(body as string));
      } catch (error) {
        done(error as Error, undefined);
      }
    },
  );
  // `curl --form` sends multipart/form-data, as GitLab's documentation does throughout.
  app.addContentTypeParser(
    'multipart/form-data',
    { parseAs: 'buffer', bodyLimit: 1024 * 1024 },
    (request, body, done) => {
      try {
        done(null, parseMultipartParams(body as Buffer, String(request.headers['content-type'] ?? '')));
      } catch (error) {
        done(error as Error, undefined);
      }
    },
  );
  // An empty body with a JSON content type (curl -X POST -H 'Content-Type: application/json') means "no body".
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' || (typeof body === 'string' && body.trim() === '')) return done(null, undefined);
    parseJson(request, body as string, done);
  });
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) => {
    done(null, (body as Buffer).toString('utf8'));
  });
  // Anything else (a runner's trace chunk without a usual type) arrives as text; schemas decide.
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  installErrorHandler(app);
  app.addHook('preValidation', applyGitLabParamSemantics);
  // Every answer: no MIME sniffing (a job trace or an error must never be run as HTML). And no
  // cache may keep an answer unless its route says so (discovery and JWKS do): many answers carry
  // a secret shown once (a new personal access token, a runner token, a job with its tokens).
  // JSON answers say exactly `application/json`, as GitLab's do: python-gitlab parses a body only
  // when its Content-Type is exactly that (JSON is UTF-8 by definition, RFC 8259 §8.1).
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    const type = reply.getHeader('content-type');
    if (typeof type === 'string' && type.startsWith('application/json;'))
      reply.header('content-type', 'application/json');
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });
  // Long polls would hold a shutdown for up to jobRequestWait seconds; end them first.
  app.addHook('preClose', (done) => {
    coordinator.stop();
    done();
  });
  const context: ServerContext = {
    coordinator,
    authLimiter: new RateLimiter(config.authRateLimit, 60_000, coordinator.clock),
    mintLimiter: new RateLimiter(config.tokenRateLimit, 60_000, coordinator.clock),
    introspectionLimiter: new RateLimiter(config.introspectionRateLimit, 60_000, coordinator.clock),
    introspectionTokenHash: hashOptionalSecret(deps.secrets?.introspectionToken),
    metricsTokenHash: hashOptionalSecret(deps.secrets?.metricsToken),
  };
  const api = deps.api !== false;
  // First: it collects the schemas of the routes added after it.
  if (api) registerOpenApiRoute(app, context);
  registerHealthRoutes(app, context);
  registerRunnerProtocolRoutes(app, context);
  registerArtifactRunnerRoutes(app, context);
  registerIdTokenRoutes(app, context);
  registerOidcRoutes(app, context);
  if (api) {
    registerMetricsRoutes(app, context);
    registerUserRoutes(app, context);
    registerGroupRoutes(app, context);
    registerProjectRoutes(app, context);
    registerMemberRoutes(app, context);
    registerProtectionRoutes(app, context);
    registerDeploymentRoutes(app, context);
    registerVariableRoutes(app, context);
    registerRunnerRoutes(app, context);
    registerPipelineRoutes(app, context);
    registerCiLintRoutes(app, context);
    registerResourceGroupRoutes(app, context);
    registerReleaseRoutes(app, context);
    registerJobRoutes(app, context);
    registerJobArtifactRoutes(app, context);
    registerTestReportRoutes(app, context);
    registerAdminRoutes(app, context);
    registerTriggerRoutes(app, context);
    registerPipelineScheduleRoutes(app, context);
    registerMirrorRoutes(app, context);
    // The web UI (src/web/).
    registerIdTokenPreviewRoutes(app, context);
    registerWebRoutes(app, context);
    registerInstanceMetadataRoutes(app, context);
    registerAccessTokenRoutes(app, context);
  }
  return { app, coordinator };
}
