import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { downloadJobArchive, mayDownloadArtifacts } from '../artifacts/job-archive.js';
import { ACCESS_LEVELS } from '../coordinator/access-level.js';
import { createPipeline } from '../coordinator/create-pipeline.js';
import { cancelJob, cancelPipeline, playJob, retryJob, retryPipeline } from '../coordinator/job-actions.js';
import { ciReadAccess, requireGroup, requireProject } from '../coordinator/permissions.js';
import { previewClaims } from '../coordinator/preview-claims.js';
import { signIn, signOut, type WebSession } from '../coordinator/web-session.js';
import { isTesseraError, TesseraError } from '../errors.js';
import type { PlannedJob } from '../pipeline/plan.js';
import type { ServerContext } from '../server/server-context.js';
import type { PipelineRecord } from '../store/repositories/pipelines.js';
import type { ProjectRecord } from '../store/repositories/projects.js';
import type { UserRecord } from '../store/repositories/users.js';
import { evaluateVaultRole, parseVaultRole } from '../verify/vault-role.js';
import { ASSETS } from './assets.js';
import { jobLogExcerpt, streamJobLog } from './job-log-stream.js';
import { AdminKeysPage, AdminRunnersPage, AdminUsersPage } from './pages/admin.js';
import { type ClaimPreviewForm, ClaimPreviewPage } from './pages/claim-preview.js';
import { HomePage } from './pages/home.js';
import { type AuditFilter, IdTokensPage, matchesAuditFilter } from './pages/id-tokens.js';
import { JobPage } from './pages/job.js';
import { ErrorPage, type PageFrame } from './pages/layout.js';
import { PipelinePage } from './pages/pipeline.js';
import { ProjectPage } from './pages/project.js';
import { SignInPage } from './pages/sign-in.js';
import {
  cookieHeader,
  csrfTokensEqual,
  currentSession,
  newCsrfToken,
  readCookies,
  SESSION_COOKIE,
  SIGN_IN_CSRF_COOKIE,
  safeRedirect,
  sendPage,
  sessionCookie,
} from './web-request.js';

const PIPELINES_PER_PAGE = 20;

/** Paths under the catch-all that belong to the API and other machines: their 404 stays JSON. */
const NOT_WEB = /^(api|oauth|\.well-known|-)(\/|$)|^favicon\.ico$/;

type FormBody = Record<string, string | undefined>;

/** The sign-in form's body: GitLab's field names, `user[login]` and `user[password]`, nested by the form parser. */
type SignInBody = FormBody & { user?: { login?: unknown; password?: unknown } };

/**
 * Route config marking a web page (not the API): the OpenAPI document leaves these out. Exported
 * so `src/server/routes/openapi.ts` can tell.
 */
export const WEB_ROUTE = { webPage: true } as const;

function frameOf(title: string, session: WebSession | undefined): PageFrame {
  return session ? { title, user: session.user, csrfToken: session.csrfToken } : { title, offerSignIn: true };
}

/** A page's frame with the CSRF token its forms need ('' for a visitor: they are shown no form). */
function formFrameOf(title: string, session: WebSession | undefined): PageFrame & { csrfToken: string } {
  return { ...frameOf(title, session), csrfToken: session?.csrfToken ?? '' };
}

/**
 * What a visitor who is not signed in may see of a public project: read-only pages, the log, and
 * the artifacts `artifacts:access` leaves to everyone (see `mayDownloadArtifacts`), as far as
 * the project's `public_jobs` lets them (see `ciReadAccess`).
 */
const ANONYMOUS_READABLE =
  /^(|pipelines|pipelines\/\d{1,10}|jobs\/\d{1,10}(\/raw|\/log_stream|\/artifacts\/download)?)$/;

/**
 * The web UI (issue 17): server-rendered pages at GitLab's `web_url` paths, sessions in the
 * store, a CSRF token on every form, a strict CSP. Every page calls the same coordinator
 * functions as the API, with the same permission checks; a project the user may not read is a
 * 404, never a 403.
 */
export function registerWebRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;

  for (const [path, asset] of ASSETS) {
    app.get(path, { logLevel: 'warn', config: WEB_ROUTE }, async (_request, reply) =>
      reply
        .header('content-type', asset.type)
        .header('cache-control', 'public, max-age=31536000, immutable')
        .header('x-content-type-options', 'nosniff')
        .send(asset.body),
    );
  }

  /** Renders a refusal or failure as a page: 404 for anything not visible, the catalogue's status else. */
  const sendError = (reply: FastifyReply, session: WebSession | undefined, error: unknown) => {
    if (!isTesseraError(error) || !error.expose) throw error;
    const status = error.code === 'ERR_NOT_FOUND' ? 404 : error.status;
    return sendPage(
      reply,
      ErrorPage({ frame: frameOf('Error', session), status, message: error.message }),
      status,
    );
  };

  const redirectToSignIn = (request: FastifyRequest, reply: FastifyReply) =>
    reply.redirect(`/users/sign_in?redirect_to=${encodeURIComponent(request.url)}`, 302);

  /** The session, or a redirect to the sign-in page (answered: then undefined). */
  const sessionOrSignIn = async (request: FastifyRequest, reply: FastifyReply) => {
    const found = await currentSession(coordinator, request);
    if (!found) {
      redirectToSignIn(request, reply);
      return undefined;
    }
    return found.session;
  };

  /** Refuses a state change whose form lacks the session's CSRF token (403, nothing done). */
  const checkCsrf = (session: WebSession, body: FormBody | undefined) => {
    if (!csrfTokensEqual(session.csrfToken, body?.authenticity_token)) {
      throw new TesseraError(
        'ERR_FORBIDDEN',
        'the form is missing its CSRF token or it is stale; reload the page',
      );
    }
  };

  const showSignIn = (
    request: FastifyRequest,
    answer: FastifyReply,
    options: { alert?: string; login?: string; status?: number },
  ) => {
    // Reuse the browser's token: another tab (or a favicon request sent to sign in) must not
    // invalidate the form already shown.
    const existing = readCookies(request).get(SIGN_IN_CSRF_COOKIE);
    const csrfToken = existing && /^[A-Za-z0-9_-]{43}$/.test(existing) ? existing : newCsrfToken();
    answer.header('set-cookie', cookieHeader(coordinator, request, SIGN_IN_CSRF_COOKIE, csrfToken, 3600));
    const redirectTo = safeRedirect(
      (request.query as { redirect_to?: string } | undefined)?.redirect_to ??
        (request.body as FormBody | undefined)?.redirect_to,
    );
    return sendPage(
      answer,
      SignInPage({
        csrfToken,
        redirectTo,
        ...(options.alert ? { alert: options.alert } : {}),
        ...(options.login ? { login: options.login } : {}),
      }),
      options.status ?? 200,
    );
  };

  app.get('/users/sign_in', { config: WEB_ROUTE }, async (request, reply) => {
    if (await currentSession(coordinator, request)) return reply.redirect('/', 302);
    return showSignIn(request, reply, {});
  });

  app.post<{ Body: SignInBody | undefined }>(
    '/users/sign_in',
    { config: WEB_ROUTE },
    async (request, reply) => {
      const body = request.body ?? {};
      const cookieToken = readCookies(request).get(SIGN_IN_CSRF_COOKIE);
      if (!cookieToken || !csrfTokensEqual(cookieToken, body.authenticity_token)) {
        return showSignIn(request, reply, {
          alert: 'The sign-in form expired; please try again.',
          status: 403,
        });
      }
      const limit = context.authLimiter.check(request.ip);
      if (!limit.allowed) {
        reply.header('retry-after', String(limit.retryAfter));
        return showSignIn(request, reply, {
          alert: 'Too many failed sign-in attempts; try again later.',
          status: 429,
        });
      }
      const login = typeof body.user?.login === 'string' ? body.user.login : '';
      const password = typeof body.user?.password === 'string' ? body.user.password : '';
      const signedIn = login && password ? await signIn(coordinator, login, password) : null;
      if (!signedIn) {
        context.authLimiter.hit(request.ip);
        return showSignIn(request, reply, { alert: 'Invalid login or password.', login, status: 401 });
      }
      reply.header('set-cookie', [
        sessionCookie(coordinator, request, signedIn.cookieValue),
        cookieHeader(coordinator, request, SIGN_IN_CSRF_COOKIE, '', 0),
      ]);
      return reply.redirect(safeRedirect(body.redirect_to), 303);
    },
  );

  app.post<{ Body: FormBody | undefined }>(
    '/users/sign_out',
    { config: WEB_ROUTE },
    async (request, reply) => {
      const found = await currentSession(coordinator, request);
      if (!found) return reply.redirect('/users/sign_in', 303);
      try {
        checkCsrf(found.session, request.body);
      } catch (error) {
        return sendError(reply, found.session, error);
      }
      await signOut(coordinator, found.cookieValue);
      reply.header('set-cookie', cookieHeader(coordinator, request, SESSION_COOKIE, '', 0));
      return reply.redirect('/users/sign_in', 303);
    },
  );

  /**
   * The projects `user` may read (admins: all), as `GET /projects` lists them, each with its last
   * pipeline when the user may see its pipelines (a Guest may not while `public_jobs` is off).
   */
  const readableProjects = async (user: UserRecord) => {
    const out: { project: ProjectRecord; last: PipelineRecord | undefined }[] = [];
    for (const candidate of await coordinator.repos.projects.list()) {
      try {
        const { project, level } = await requireProject(coordinator, user, candidate.id, 0);
        const [last] = ciReadAccess(project, level, true).pipelines
          ? await coordinator.repos.pipelines.listByProject(project.id, 1)
          : [];
        out.push({ project, last });
      } catch {
        // not readable: left out, as the API does
      }
    }
    return out;
  };

  app.get('/', { config: WEB_ROUTE }, async (request, reply) => {
    const session = (await currentSession(coordinator, request))?.session;
    if (!session) {
      // As GitLab's explore page: a visitor sees the public projects, and a way to sign in.
      const projects = [];
      for (const project of await coordinator.repos.projects.list()) {
        if (project.visibility !== 'public') continue;
        const [last] = await coordinator.repos.pipelines.listByProject(project.id, 1);
        projects.push({ project, last });
      }
      const groupIds = new Set(projects.map(({ project }) => project.namespaceId));
      const groups = (await coordinator.repos.groups.list()).filter(
        (group) => group.visibility === 'public' && groupIds.has(group.id),
      );
      return sendPage(
        reply,
        HomePage({
          frame: frameOf('Public projects', undefined),
          heading: 'Public projects',
          projects,
          groups,
          now: coordinator.clock(),
        }),
      );
    }
    const projects = await readableProjects(session.user);
    const groupIds = new Set(projects.map(({ project }) => project.namespaceId));
    const groups = (await coordinator.repos.groups.list()).filter(
      (group) => session.user.isAdmin || groupIds.has(group.id),
    );
    return sendPage(
      reply,
      HomePage({ frame: frameOf('Projects', session), projects, groups, now: coordinator.clock() }),
    );
  });

  app.get('/admin/runners', { config: WEB_ROUTE }, async (request, reply) => {
    const session = await sessionOrSignIn(request, reply);
    if (!session) return reply;
    if (!session.user.isAdmin)
      return sendError(reply, session, new TesseraError('ERR_NOT_FOUND', 'page not found'));
    const runners = await coordinator.repos.runners.list();
    return sendPage(
      reply,
      AdminRunnersPage({ frame: frameOf('Runners', session), runners, now: coordinator.clock() }),
    );
  });

  app.get('/admin/users', { config: WEB_ROUTE }, async (request, reply) => {
    const session = await sessionOrSignIn(request, reply);
    if (!session) return reply;
    if (!session.user.isAdmin)
      return sendError(reply, session, new TesseraError('ERR_NOT_FOUND', 'page not found'));
    const users = await coordinator.repos.users.list();
    return sendPage(reply, AdminUsersPage({ frame: frameOf('Users', session), users }));
  });

  app.get('/admin/keys', { config: WEB_ROUTE }, async (request, reply) => {
    const session = await sessionOrSignIn(request, reply);
    if (!session) return reply;
    if (!session.user.isAdmin)
      return sendError(reply, session, new TesseraError('ERR_NOT_FOUND', 'page not found'));
    const keys = await coordinator.keyring.list();
    return sendPage(reply, AdminKeysPage({ frame: formFrameOf('Signing keys', session), keys }));
  });

  app.post<{ Params: { '*': string }; Body: FormBody | undefined }>(
    '/admin/keys/*',
    { config: WEB_ROUTE },
    async (request, reply) => {
      const found = await currentSession(coordinator, request);
      if (!found) return redirectToSignIn(request, reply);
      const { session } = found;
      try {
        if (!session.user.isAdmin) throw new TesseraError('ERR_NOT_FOUND', 'page not found');
        checkCsrf(session, request.body);
        const action = request.params['*'];
        const body = request.body ?? {};
        let notice: string;
        if (action === 'rotate') {
          if (body.confirm !== 'yes')
            throw new TesseraError('ERR_VALIDATION', 'tick the box to confirm the rotation');
          const alg = body.alg === 'ES256' ? 'ES256' : 'RS256';
          const result = await coordinator.keyring.rotate(alg, { force: body.force === 'yes' });
          request.log.info({ alg, current: result.current, next: result.next }, 'signing key rotated (web)');
          notice = `Rotated ${alg}: ${result.current} signs now, ${result.next} is next.`;
        } else {
          const match = /^([A-Za-z0-9_-]{1,128})\/revoke$/.exec(action);
          if (!match) throw new TesseraError('ERR_NOT_FOUND', 'page not found');
          const kid = match[1]!;
          if (!csrfTokensEqual(kid, body.confirm_kid?.trim()))
            throw new TesseraError('ERR_VALIDATION', `type the kid ${kid} to confirm revoking it`);
          await coordinator.keyring.revoke(kid);
          request.log.warn({ kid }, 'signing key revoked (web)');
          notice = `Revoked ${kid}: it left the JWKS now.`;
        }
        const keys = await coordinator.keyring.list();
        return sendPage(
          reply,
          AdminKeysPage({
            frame: formFrameOf('Signing keys', session),
            keys,
            notice,
          }),
        );
      } catch (error) {
        // A refused change is shown on the keys page itself, with the keys as they are.
        if (
          !session.user.isAdmin ||
          !isTesseraError(error) ||
          !error.expose ||
          error.code === 'ERR_NOT_FOUND'
        )
          return sendError(reply, session, error);
        const keys = await coordinator.keyring.list();
        return sendPage(
          reply,
          AdminKeysPage({
            frame: formFrameOf('Signing keys', session),
            keys,
            alert: error.message,
          }),
          error.status,
        );
      }
    },
  );

  /** Splits `group/project/-/rest` into the project path and what follows `/-/`. */
  const splitPath = (path: string) => {
    const at = path.indexOf('/-/');
    return at === -1
      ? { projectPath: path.replace(/\/$/, ''), rest: '' }
      : { projectPath: path.slice(0, at), rest: path.slice(at + 3) };
  };

  const loadProject = async (user: UserRecord, projectPath: string, minimum: number) => {
    if (projectPath === '' || /^\d+$/.test(projectPath))
      throw new TesseraError('ERR_NOT_FOUND', 'page not found');
    try {
      return await requireProject(coordinator, user, projectPath, minimum);
    } catch (error) {
      // A project the user may not read is simply not there for them.
      if (isTesseraError(error) && error.code === 'ERR_FORBIDDEN' && minimum === 0)
        throw new TesseraError('ERR_NOT_FOUND', `project ${projectPath} not found`);
      throw error;
    }
  };

  const loadPipeline = async (project: ProjectRecord, id: number) => {
    const pipeline = await coordinator.repos.pipelines.findById(id);
    if (!pipeline || pipeline.projectId !== project.id)
      throw new TesseraError('ERR_NOT_FOUND', `pipeline ${id} not found`);
    return pipeline;
  };

  const loadJob = async (project: ProjectRecord, id: number) => {
    const job = id <= 2147483647 ? await coordinator.repos.jobs.findById<PlannedJob>(id) : undefined;
    if (!job || job.projectId !== project.id) throw new TesseraError('ERR_NOT_FOUND', `job ${id} not found`);
    return job;
  };

  /**
   * Answers a project's page (`rest`: what follows `/-/`) for the session's user with role `level`,
   * or for a visitor (no session, role 0, a public project): then without actions, the ID-token
   * audit or the job's variables. What of the pipelines and jobs anyone below the Reporter role
   * sees is `ciReadAccess`'s answer, as in the API: without the jobs, the project page lists no
   * pipeline, a pipeline page links no job, and job pages, logs and artifacts are a 404.
   */
  const sendProjectPage = async (
    request: FastifyRequest<{ Querystring: Record<string, string | undefined> }>,
    reply: FastifyReply,
    session: WebSession | undefined,
    project: ProjectRecord,
    level: number,
    rest: string,
    now: number,
  ) => {
    const canAct = level >= ACCESS_LEVELS.developer;
    const canSeeTokens = level >= ACCESS_LEVELS.maintainer;
    const ci = ciReadAccess(project, level, session !== undefined);
    const hidden = (what: string) =>
      new TesseraError('ERR_NOT_FOUND', `${what} not found (this project's jobs are for its members)`);
    if (rest === '' && !ci.jobs) {
      return sendPage(
        reply,
        ProjectPage({
          frame: formFrameOf(project.pathWithNamespace, session),
          project,
          pipelines: null,
          users: new Map(),
          page: 1,
          hasNext: false,
          canRun: canAct,
          canSeeTokens,
          now,
        }),
      );
    }
    if (rest === 'pipelines' && !ci.jobs) throw hidden('page');
    if (rest === '' || rest === 'pipelines') {
      const page = Math.max(1, Math.min(10_000, Number.parseInt(request.query.page ?? '1', 10) || 1));
      const all = await coordinator.repos.pipelines.listByProject(project.id, page * PIPELINES_PER_PAGE + 1);
      const pipelines = all.slice((page - 1) * PIPELINES_PER_PAGE, page * PIPELINES_PER_PAGE);
      const users = new Map<number, UserRecord>();
      for (const id of new Set(pipelines.map((p) => p.userId).filter((id): id is number => id !== null))) {
        const found = await coordinator.repos.users.findById(id);
        if (found) users.set(id, found);
      }
      return sendPage(
        reply,
        ProjectPage({
          frame: formFrameOf(project.pathWithNamespace, session),
          project,
          pipelines,
          users,
          page,
          hasNext: all.length > page * PIPELINES_PER_PAGE,
          canRun: canAct,
          canSeeTokens,
          now,
        }),
      );
    }
    const match1 = /^pipelines\/(\d{1,10})$/.exec(rest);
    if (match1) {
      const match = match1;
      if (!ci.pipelines) throw hidden(`pipeline ${match[1]}`);
      const pipeline = await loadPipeline(project, Number(match[1]));
      const jobs = await coordinator.repos.jobs.listStatesByPipeline(pipeline.id, true);
      // Parent and child pipelines (trigger: jobs): linked when they are of this project; of
      // another project only their existence shows, as the bridges API hides what the caller may not see.
      const downstream = await coordinator.repos.pipelines.listBySourceJobs(jobs.map((job) => job.id));
      const sourceJob =
        pipeline.sourceJobId === null
          ? undefined
          : await coordinator.repos.jobs.findById(pipeline.sourceJobId);
      const upstream =
        sourceJob === undefined
          ? undefined
          : await coordinator.repos.pipelines.findById(sourceJob.pipelineId);
      return sendPage(
        reply,
        PipelinePage({
          frame: formFrameOf(`Pipeline #${pipeline.id}`, session),
          project,
          pipeline,
          jobs,
          downstream,
          ...(upstream ? { upstream } : {}),
          canAct,
          canSeeTokens,
          linkJobs: ci.jobs,
          now,
        }),
      );
    }
    const match2 = /^jobs\/(\d{1,10})(\/raw|\/log_stream|\/artifacts\/download)?$/.exec(rest);
    if (match2) {
      const match = match2;
      if (!ci.jobs) throw hidden(`job ${match[1]}`);
      const job = await loadJob(project, Number(match[1]));
      const reader = { level, signedIn: session !== undefined };
      // GitLab's web path of the archive; the API's access rules, the session's role.
      if (match[2] === '/artifacts/download')
        return downloadJobArchive(coordinator, reply, job, reader, project);
      if (match[2] === '/raw' || match[2] === '/log_stream') {
        if (match[2] === '/raw') {
          return reply
            .header('content-type', 'text/plain; charset=utf-8')
            .header('x-content-type-options', 'nosniff')
            .send(await coordinator.repos.jobs.readTrace(job.id));
        }
        const offset = Math.max(0, Number.parseInt(request.query.offset ?? '0', 10) || 0);
        return streamJobLog(coordinator, request, reply, job.id, offset);
      }
      const pipeline = await loadPipeline(project, job.pipelineId);
      const tokens =
        canSeeTokens || level >= ACCESS_LEVELS.developer
          ? (await coordinator.repos.issuedTokens.listByProject(project.id, 1000)).filter(
              (t) => t.jobId === job.id,
            )
          : null;
      // A visitor sees no variable names (GitLab shows variables to members only).
      const variableNames = session
        ? [...new Set([...Object.keys(pipeline.variables), ...Object.keys(job.spec.variables ?? {})])].sort()
        : null;
      return sendPage(
        reply,
        JobPage({
          frame: formFrameOf(job.name, session),
          project,
          pipeline,
          job,
          log: await jobLogExcerpt(coordinator, job.id),
          tokens,
          variableNames,
          artifacts: await coordinator.repos.jobArtifacts.listByJob(job.id),
          canDownloadArtifacts: mayDownloadArtifacts(job, reader, project),
          canAct,
          canSeeTokens,
          now,
        }),
      );
    }
    if (rest === 'id_tokens/preview') {
      if (!canAct) throw new TesseraError('ERR_FORBIDDEN', 'the claim preview needs the Developer role');
      const form: ClaimPreviewForm = {
        ref: project.defaultBranch,
        job: '',
        aud: '',
        jobDefinition: '',
        role: '',
      };
      return sendPage(
        reply,
        ClaimPreviewPage({
          frame: formFrameOf('Claim preview', session),
          project,
          form,
        }),
      );
    }
    if (rest === 'id_tokens') {
      if (!canSeeTokens)
        throw new TesseraError('ERR_FORBIDDEN', 'the ID-token audit needs the Maintainer role');
      const filter: AuditFilter = {};
      for (const key of ['aud', 'sub', 'kid', 'job', 'via'] as const) {
        const value = request.query[key];
        if (value) filter[key] = value.slice(0, 500);
      }
      const records = (await coordinator.repos.issuedTokens.listByProject(project.id, 1000)).filter((r) =>
        matchesAuditFilter(r, filter),
      );
      return sendPage(
        reply,
        IdTokensPage({ frame: frameOf('ID tokens', session), project, records, filter }),
      );
    }
    throw new TesseraError('ERR_NOT_FOUND', 'page not found');
  };

  app.get<{ Params: { '*': string }; Querystring: Record<string, string | undefined> }>(
    '/*',
    { config: WEB_ROUTE },
    async (request, reply) => {
      const path = request.params['*'];
      if (NOT_WEB.test(path)) throw new TesseraError('ERR_NOT_FOUND', `route GET /${path} not found`);
      const session = (await currentSession(coordinator, request))?.session;
      const now = coordinator.clock();
      if (!session) {
        // A visitor reads a public project's pages, read-only; anything else (a private or
        // internal project, one that does not exist, a group, a page needing a role) asks them
        // to sign in, so the answer does not say whether the project exists.
        const { projectPath, rest } = splitPath(path);
        const project =
          path.startsWith('groups/') || projectPath === '' || /^\d+$/.test(projectPath)
            ? undefined
            : await coordinator.repos.projects.findByPath(projectPath);
        if (project?.visibility !== 'public' || !ANONYMOUS_READABLE.test(rest))
          return redirectToSignIn(request, reply);
        try {
          return await sendProjectPage(request, reply, undefined, project, 0, rest, now);
        } catch (error) {
          return sendError(reply, undefined, error);
        }
      }
      const { user } = session;
      try {
        if (path.startsWith('groups/')) {
          const fullPath = path.slice('groups/'.length).replace(/\/$/, '');
          const found = await coordinator.repos.groups.findByFullPath(fullPath);
          if (!found) throw new TesseraError('ERR_NOT_FOUND', `group ${fullPath} not found`);
          const { group } = await requireGroup(coordinator, user, found.id, 0);
          const inside = (candidate: string) => candidate.startsWith(`${group.fullPath}/`);
          const projects = (await readableProjects(user)).filter(({ project }) =>
            inside(project.pathWithNamespace),
          );
          const subgroups = [];
          for (const candidate of (await coordinator.repos.groups.list()).filter((g) => inside(g.fullPath))) {
            try {
              await requireGroup(coordinator, user, candidate.id, 0);
              subgroups.push(candidate);
            } catch {
              // a private subgroup the user is not in: left out
            }
          }
          return sendPage(
            reply,
            HomePage({
              frame: frameOf(group.fullPath, session),
              heading: group.fullPath,
              groupsHeading: 'Subgroups',
              projects,
              groups: subgroups,
              now,
            }),
          );
        }
        const { projectPath, rest } = splitPath(path);
        const { project, level } = await loadProject(user, projectPath, 0);
        return await sendProjectPage(request, reply, session, project, level, rest, now);
      } catch (error) {
        return sendError(reply, session, error);
      }
    },
  );

  app.post<{ Params: { '*': string }; Body: FormBody | undefined }>(
    '/*',
    { config: WEB_ROUTE },
    async (request, reply) => {
      const path = request.params['*'];
      if (NOT_WEB.test(path)) throw new TesseraError('ERR_NOT_FOUND', `route POST /${path} not found`);
      const found = await currentSession(coordinator, request);
      if (!found) return redirectToSignIn(request, reply);
      const { session } = found;
      const { user } = session;
      try {
        checkCsrf(session, request.body);
        const { projectPath, rest } = splitPath(path);
        const { project } = await loadProject(user, projectPath, 0);
        const base = `/${project.pathWithNamespace}`;
        if (rest === 'pipelines') {
          const ref = (request.body?.ref ?? '').trim();
          if (ref === '') throw new TesseraError('ERR_VALIDATION', 'name the branch or tag to run');
          const variables: Record<string, string> = {};
          for (const line of (request.body?.variables ?? '').split(/\r?\n/)) {
            if (line.trim() === '') continue;
            const eq = line.indexOf('=');
            const key = eq === -1 ? '' : line.slice(0, eq).trim();
            if (!/^[A-Za-z0-9_]{1,255}$/.test(key))
              throw new TesseraError(
                'ERR_VALIDATION',
                `variable line "${line.slice(0, 60)}" is not KEY=value`,
              );
            variables[key] = line.slice(eq + 1);
          }
          const pipeline = await createPipeline(coordinator, {
            project,
            user,
            ref,
            source: 'web',
            variables,
          });
          return reply.redirect(`${base}/-/pipelines/${pipeline.id}`, 303);
        }
        await loadProject(user, projectPath, ACCESS_LEVELS.developer);
        if (rest === 'id_tokens/preview') {
          const body = request.body ?? {};
          const form: ClaimPreviewForm = {
            ref: (body.ref ?? '').trim(),
            job: (body.job ?? '').trim(),
            aud: (body.aud ?? '').trim(),
            jobDefinition: body.job_definition ?? '',
            role: body.role ?? '',
          };
          const frame = formFrameOf('Claim preview', session);
          try {
            if (form.ref === '') throw new TesseraError('ERR_VALIDATION', 'name the branch or tag');
            const role = form.role.trim() === '' ? undefined : parseVaultRole(form.role);
            const preview = await previewClaims(coordinator, {
              project,
              user,
              ref: form.ref,
              ...(form.job ? { job: form.job } : {}),
              ...(form.aud ? { aud: form.aud } : {}),
              ...(form.jobDefinition.trim() ? { jobDefinition: form.jobDefinition } : {}),
            });
            const verdicts = role
              ? preview.tokens.map((token) =>
                  evaluateVaultRole(token.claims as unknown as Record<string, unknown>, role),
                )
              : undefined;
            return sendPage(
              reply,
              ClaimPreviewPage({ frame, project, form, preview, ...(verdicts ? { verdicts } : {}) }),
            );
          } catch (error) {
            if (!isTesseraError(error) || !error.expose || error.code === 'ERR_NOT_FOUND') throw error;
            return sendPage(
              reply,
              ClaimPreviewPage({ frame, project, form, error: error.message }),
              error.status,
            );
          }
        }
        const match3 = /^pipelines\/(\d{1,10})\/(cancel|retry)$/.exec(rest);
        if (match3) {
          const match = match3;
          const pipeline = await loadPipeline(project, Number(match[1]));
          if (match[2] === 'cancel') await cancelPipeline(coordinator, pipeline.id);
          else await retryPipeline(coordinator, project, user, pipeline.id);
          return reply.redirect(`${base}/-/pipelines/${pipeline.id}`, 303);
        }
        const match4 = /^jobs\/(\d{1,10})\/(cancel|retry|play)$/.exec(rest);
        if (match4) {
          const match = match4;
          const job = await loadJob(project, Number(match[1]));
          let target = job.id;
          if (match[2] === 'cancel') await cancelJob(coordinator, job);
          else if (match[2] === 'play') {
            // manual_confirmation: the job page's Run form has a box to tick; a run without it
            // (a stale page, another form) is refused rather than run unconfirmed.
            if (job.spec.manualConfirmation !== undefined && request.body?.confirm !== 'yes')
              throw new TesseraError(
                'ERR_VALIDATION',
                `job ${job.id} asks for confirmation before it runs: tick the box under its message on the job page`,
              );
            await playJob(coordinator, project, user, job);
          } else target = (await retryJob(coordinator, project, user, job)).id;
          return reply.redirect(`${base}/-/jobs/${target}`, 303);
        }
        throw new TesseraError('ERR_NOT_FOUND', 'page not found');
      } catch (error) {
        return sendError(reply, session, error);
      }
    },
  );
}
