import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeRepository } from '../coordinator/git-fixture.js';
import { registerRunner, requestJob, updateJob } from '../coordinator/runner-client.js';
import { testDialects } from '../store/dialects.js';
import { type ApiAnswer, startTestCoordinator, type TestCoordinator } from './harness.js';

/** The `rel` → URL pairs of a Link header. */
function links(header: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(',')) {
    const match = /<([^>]+)>;\s*rel="(\w+)"/.exec(part);
    if (match?.[1] && match[2]) out[match[2]] = match[1];
  }
  return out;
}

/** Every item of a list, following Link rel="next" as python-gitlab and gitbeaker do. */
async function followAll(c: TestCoordinator, path: string, token?: string) {
  const items: { id: number; path?: string }[] = [];
  let next: string | undefined = `${c.url}${path}`;
  let pages = 0;
  while (next !== undefined) {
    const answer: ApiAnswer = await c.api(
      'GET',
      next.slice(c.url.length),
      token === undefined ? {} : { token },
    );
    assert.equal(answer.status, 200, answer.text);
    items.push(...answer.body);
    next = links(answer.headers.get('link')).next;
    pages++;
  }
  return { items, pages };
}

async function user(c: TestCoordinator, username: string) {
  const created = await c.api('POST', '/api/v4/users', {
    body: { username, email: `${username}@example.com`, name: username },
  });
  const token = await c.api('POST', `/api/v4/users/${created.body.id}/personal_access_tokens`, {
    body: { name: 't', scopes: ['api'] },
  });
  return { id: created.body.id as number, token: token.body.token as string };
}

for (const dialect of testDialects()) {
  describe(`offset and keyset pagination, filters [${dialect.name}]`, { skip: dialect.skip }, () => {
    it("answers GET /version and GET /metadata in GitLab's shapes, to signed-in callers", async () => {
      const c = await startTestCoordinator(dialect);
      const version = await c.api('GET', '/api/v4/version');
      assert.equal(version.status, 200);
      assert.match(version.body.version, /^\d+\.\d+\.\d+-tessera\./);
      assert.equal(typeof version.body.revision, 'string');
      const metadata = await c.api('GET', '/api/v4/metadata');
      assert.equal(metadata.body.version, version.body.version);
      assert.equal(metadata.body.kas.enabled, false);
      assert.equal(metadata.body.enterprise, false);
      assert.equal((await c.api('GET', '/api/v4/version', { token: null })).status, 401);
    });

    it('pages projects in SQL with every header, filters them as GitLab, and follows keyset links', async () => {
      const c = await startTestCoordinator(dialect);
      const acme = await c.api('POST', '/api/v4/groups', { body: { name: 'Acme', path: 'acme' } });
      const other = await c.api('POST', '/api/v4/groups', { body: { name: 'Other', path: 'other_x' } });
      const sub = await c.api('POST', '/api/v4/groups', {
        body: { name: 'Sub', path: 'sub', parent_id: acme.body.id },
      });
      for (let i = 0; i < 23; i++) {
        const namespace = i < 10 ? acme.body.id : i < 13 ? sub.body.id : other.body.id;
        const created = await c.api('POST', '/api/v4/projects', {
          body: {
            name: `proj-${String(i).padStart(2, '0')}`,
            namespace_id: namespace,
            repository_url: '/tmp/none',
            visibility: i === 22 ? 'public' : 'private',
          },
        });
        assert.equal(created.status, 201, created.text);
      }
      const page2 = await c.api('GET', '/api/v4/projects?per_page=10&page=2&order_by=id&sort=asc');
      assert.equal(page2.status, 200);
      assert.deepEqual(
        page2.body.map((p: { name: string }) => p.name),
        Array.from({ length: 10 }, (_, i) => `proj-${String(i + 10).padStart(2, '0')}`),
      );
      const h = page2.headers;
      assert.deepEqual(
        ['x-page', 'x-per-page', 'x-total', 'x-total-pages', 'x-next-page', 'x-prev-page'].map((n) =>
          h.get(n),
        ),
        ['2', '10', '23', '3', '3', '1'],
      );
      const rel = links(h.get('link'));
      assert.deepEqual(Object.keys(rel).sort(), ['first', 'last', 'next', 'prev']);
      assert.equal(new URL(rel.last ?? '').searchParams.get('page'), '3');
      assert.equal(new URL(rel.next ?? '').searchParams.get('order_by'), 'id', 'links keep the filters');
      const last = await c.api('GET', '/api/v4/projects?per_page=10&page=3');
      assert.equal(last.body.length, 3);
      assert.equal(last.headers.get('x-next-page'), '');
      assert.equal(links(last.headers.get('link')).next, undefined);
      // per_page above 100 is served as 100, as GitLab does; the default is 20, newest first.
      const clamped = await c.api('GET', '/api/v4/projects?per_page=500');
      assert.equal(clamped.headers.get('x-per-page'), '100');
      const defaults = await c.api('GET', '/api/v4/projects');
      assert.equal(defaults.body.length, 20);
      assert.equal(defaults.body[0].name, 'proj-22');
      // Everything, following next links.
      const all = await followAll(c, '/api/v4/projects?per_page=7');
      assert.equal(all.pages, 4);
      assert.equal(new Set(all.items.map((p) => p.id)).size, 23);

      // Filters: search (a literal `_` is no wildcard), visibility, order.
      const search = await c.api('GET', '/api/v4/projects?search=PROJ-1&order_by=name&sort=asc');
      assert.deepEqual(
        search.body.map((p: { name: string }) => p.name),
        Array.from({ length: 10 }, (_, i) => `proj-1${i}`),
      );
      assert.equal((await c.api('GET', '/api/v4/projects?search=j_0')).body.length, 0);
      const publicOnly = await c.api('GET', '/api/v4/projects?visibility=public');
      assert.deepEqual(
        publicOnly.body.map((p: { name: string }) => p.name),
        ['proj-22'],
      );

      // A member of acme sees acme's and sub's projects (inherited) and the public one; with
      // membership=true only the first; `other_x` is not a prefix of anything it holds.
      const ada = await user(c, 'ada');
      await c.api('POST', `/api/v4/groups/${acme.body.id}/members`, {
        body: { user_id: ada.id, access_level: 30 },
      });
      const visible = await followAll(c, '/api/v4/projects?per_page=5', ada.token);
      assert.equal(visible.items.length, 14);
      const member = await c.api('GET', '/api/v4/projects?membership=true&per_page=100', {
        token: ada.token,
      });
      assert.equal(member.headers.get('x-total'), '13');
      assert.equal((await c.api('GET', '/api/v4/projects?owned=true', { token: ada.token })).body.length, 0);

      // Keyset: order by id, only a next link, after the last id.
      const keyset = await followAll(
        c,
        '/api/v4/projects?pagination=keyset&order_by=id&sort=asc&per_page=10',
      );
      assert.equal(keyset.pages, 3);
      assert.deepEqual(
        keyset.items.map((p) => p.id),
        [...keyset.items.map((p) => p.id)].sort((a, b) => a - b),
      );
      assert.equal(keyset.items.length, 23);
      const badKeyset = await c.api('GET', '/api/v4/projects?pagination=keyset&order_by=name');
      assert.equal(badKeyset.status, 400);
      assert.match(badKeyset.body.message, /order_by/);

      // Groups and users page the same way.
      const groups = await c.api('GET', '/api/v4/groups?per_page=2');
      assert.equal(groups.headers.get('x-total'), '3');
      assert.deepEqual(
        groups.body.map((g: { path: string }) => g.path),
        ['acme', 'other_x'],
      );
      const adaGroups = await c.api('GET', '/api/v4/groups?min_access_level=30', { token: ada.token });
      assert.deepEqual(adaGroups.body.map((g: { path: string }) => g.path).sort(), ['acme', 'sub']);
      const users = await c.api('GET', '/api/v4/users?per_page=1&page=2');
      assert.equal(users.headers.get('x-total'), '2');
      assert.equal(users.body[0].username, 'ada');
      assert.equal((await c.api('GET', '/api/v4/users?search=ADA')).body.length, 1);
    });

    it('filters runners in SQL by contact status as time passes, by tags, and pages them', async () => {
      let now = Date.parse('2030-01-01T00:00:00Z');
      const c = await startTestCoordinator(dialect, {}, { clock: () => now });
      const contacted = await registerRunner(c, { tag_list: ['linux', 'gpu'] });
      await registerRunner(c, { tag_list: ['linux'] });
      assert.equal(await requestJob(c, contacted), null, 'no job, but the runner made contact');
      const statuses = async (status: string) =>
        (await c.api('GET', `/api/v4/runners/all?status=${status}`)).headers.get('x-total');
      assert.deepEqual(
        [await statuses('online'), await statuses('never_contacted'), await statuses('offline')],
        ['1', '1', '0'],
      );
      now += 3 * 60 * 60 * 1000;
      assert.deepEqual([await statuses('online'), await statuses('offline')], ['0', '1']);
      now += 8 * 24 * 60 * 60 * 1000;
      assert.deepEqual(
        [await statuses('stale'), await statuses('offline'), await statuses('never_contacted')],
        ['2', '0', '0'],
      );
      const tagged = await c.api('GET', '/api/v4/runners/all?tag_list=gpu,linux');
      assert.equal(tagged.body.length, 1);
      assert.deepEqual(tagged.body[0].tag_list.sort(), ['gpu', 'linux']);
      const second = await c.api('GET', '/api/v4/runners/all?tag_list=linux&per_page=1&page=2');
      assert.equal(second.headers.get('x-total'), '2');
      assert.equal(second.body.length, 1);
      assert.equal(links(second.headers.get('link')).prev?.includes('tag_list=linux'), true);
    });

    it('pages and filters pipelines and jobs (scope[], status, ref, sha, username, updated_after)', async () => {
      const c = await startTestCoordinator(dialect);
      const repository = await makeRepository({
        '.gitlab-ci.yml': 'build:\n  script: [echo build]\ntest:\n  script: [echo test]\n',
      });
      const sha = repository.git('rev-parse', 'HEAD');
      repository.git('branch', 'feature');
      const group = await c.api('POST', '/api/v4/groups', { body: { name: 'Acme', path: 'acme' } });
      const project = await c.api('POST', '/api/v4/projects', {
        body: { name: 'app', namespace_id: group.body.id, repository_url: repository.path },
      });
      const pid = project.body.id;
      const ids: number[] = [];
      for (const ref of ['main', 'main', 'feature', 'main', 'feature']) {
        const created = await c.api('POST', `/api/v4/projects/${pid}/pipeline?ref=${ref}`);
        assert.equal(created.status, 201, created.text);
        ids.push(created.body.id);
      }
      await c.api('POST', `/api/v4/projects/${pid}/pipelines/${ids[0]}/cancel`);
      const page = await c.api('GET', `/api/v4/projects/${pid}/pipelines?per_page=2&page=2`);
      assert.deepEqual(
        page.body.map((p: { id: number }) => p.id),
        [ids[2], ids[1]],
      );
      assert.equal(page.headers.get('x-total'), '5');
      const feature = await c.api('GET', `/api/v4/projects/${pid}/pipelines?ref=feature&sort=asc`);
      assert.deepEqual(
        feature.body.map((p: { id: number }) => p.id),
        [ids[2], ids[4]],
      );
      assert.equal((await c.api('GET', `/api/v4/projects/${pid}/pipelines?scope=finished`)).body.length, 1);
      assert.equal(
        (await c.api('GET', `/api/v4/projects/${pid}/pipelines?status=canceled`)).body[0].id,
        ids[0],
      );
      assert.equal((await c.api('GET', `/api/v4/projects/${pid}/pipelines?scope=tags`)).body.length, 0);
      assert.equal((await c.api('GET', `/api/v4/projects/${pid}/pipelines?sha=${sha}`)).body.length, 5);
      assert.equal((await c.api('GET', `/api/v4/projects/${pid}/pipelines?username=root`)).body.length, 5);
      assert.equal((await c.api('GET', `/api/v4/projects/${pid}/pipelines?username=nobody`)).body.length, 0);
      assert.equal(
        (await c.api('GET', `/api/v4/projects/${pid}/pipelines?updated_after=2999-01-01T00:00:00Z`)).body
          .length,
        0,
      );
      const latest = await c.api('GET', `/api/v4/projects/${pid}/pipelines/latest`);
      assert.equal(latest.body.id, ids[3]);
      assert.equal(
        (await c.api('GET', `/api/v4/projects/${pid}/pipelines/latest?ref=feature`)).body.id,
        ids[4],
      );

      const jobs = await c.api('GET', `/api/v4/projects/${pid}/jobs?per_page=3`);
      assert.equal(jobs.headers.get('x-total'), '10');
      assert.equal(jobs.body.length, 3);
      const canceled = await c.api('GET', `/api/v4/projects/${pid}/jobs?scope[]=canceled&scope[]=failed`);
      assert.equal(canceled.body.length, 2);
      assert.ok(canceled.body.every((j: { pipeline: { id: number } }) => j.pipeline.id === ids[0]));
      const pending = await c.api('GET', `/api/v4/projects/${pid}/jobs?scope=pending`);
      assert.equal(pending.headers.get('x-total'), '8');
      const pipelineJobs = await c.api(
        'GET',
        `/api/v4/projects/${pid}/pipelines/${ids[1]}/jobs?per_page=1&page=2`,
      );
      assert.equal(pipelineJobs.body[0].name, 'test');
      assert.equal(pipelineJobs.headers.get('x-total-pages'), '2');

      // GET /job: a running job's own details for its job token, nothing for anyone else.
      const runnerToken = await registerRunner(c);
      const claimed = await requestJob(c, runnerToken);
      assert.ok(claimed);
      const own = await c.api('GET', '/api/v4/job', { token: null, headers: { 'job-token': claimed.token } });
      assert.equal(own.status, 200, own.text);
      assert.equal(own.body.id, claimed.id);
      assert.equal(own.body.status, 'running');
      const byQuery = await c.api('GET', `/api/v4/job?job_token=${claimed.token}`, { token: null });
      assert.equal(byQuery.body.id, claimed.id);
      assert.equal(
        (await c.api('GET', '/api/v4/job', { token: null, headers: { 'job-token': 'x' } })).status,
        403,
      );
      await updateJob(c, claimed, { state: 'success', exit_code: 0 });
      const ended = await c.api('GET', '/api/v4/job', {
        token: null,
        headers: { 'job-token': claimed.token },
      });
      assert.equal(ended.status, 403, 'only while the job runs');

      // Delete: the pipeline and its jobs go; the list and the totals say so.
      const deleted = await c.api('DELETE', `/api/v4/projects/${pid}/pipelines/${ids[0]}`);
      assert.equal(deleted.status, 204);
      assert.equal((await c.api('GET', `/api/v4/projects/${pid}/pipelines/${ids[0]}`)).status, 404);
      assert.equal((await c.api('GET', `/api/v4/projects/${pid}/jobs`)).headers.get('x-total'), '8');
      assert.equal((await c.api('DELETE', `/api/v4/projects/${pid}/pipelines/${ids[0]}`)).status, 404);
    });
  });
}
