import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeJwt } from 'jose';
import { makeRepository } from '../coordinator/git-fixture.js';
import { setUpProject } from '../coordinator/project-fixture.js';
import { registerRunner, requestJob, updateJob, variable } from '../coordinator/runner-client.js';
import { startTestCoordinator, type TestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';

const CONFIG = `
build:
  script: [echo $CI_COMMIT_BEFORE_SHA]
  id_tokens:
    ID:
      aud: relying-party
  rules:
    - if: $CI_PIPELINE_SOURCE == "push"
release:
  script: [echo release]
  rules:
    - if: $CI_COMMIT_TAG
`;
const ZERO = '0000000000000000000000000000000000000000';
const SECRET = 'webhook-secret-0123456789';

interface Pipeline {
  id: number;
  ref: string;
  tag: boolean;
  sha: string;
  source: string;
  user: { id: number };
}

async function pipelines(c: TestCoordinator, projectId: number): Promise<Pipeline[]> {
  return (await c.api('GET', `/api/v4/projects/${projectId}/pipelines`)).body;
}

/** Waits (at most 30 s) until `check` holds; the watcher works on its own clock. */
async function eventually<T>(
  what: string,
  probe: () => Promise<T>,
  check: (value: T) => boolean,
): Promise<T> {
  for (let i = 0; i < 300; i += 1) {
    const value = await probe();
    if (check(value)) return value;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function signedPost(c: TestCoordinator, projectId: number, body: string, headers: Record<string, string>) {
  return c.api('POST', `/api/v4/projects/${projectId}/mirror/pull`, {
    token: null,
    body,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

const hubSignature = (body: string, secret = SECRET) =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

for (const dialect of testDialects()) {
  describe(`pull mirroring [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('the watcher starts a push pipeline for a new commit within the interval', async () => {
      const repo = await makeRepository({ '.gitlab-ci.yml': CONFIG });
      const c = await startTestCoordinator(dialect, { mirrorInterval: 1 });
      const p = await setUpProject(c, repo.path);
      const runner = await registerRunner(c);
      const enabled = await c.api('PUT', `/api/v4/projects/${p.projectId}`, {
        token: p.maintainer.token,
        body: { mirror: true, mirror_trigger_builds: true },
      });
      assert.equal(enabled.status, 200, enabled.text);
      assert.equal(enabled.body.mirror, true);
      assert.equal(
        enabled.body.mirror_user_id,
        p.maintainer.id,
        'whoever enables mirroring runs its pipelines',
      );
      await eventually(
        'the first look',
        () => c.api('GET', `/api/v4/projects/${p.projectId}/mirror/pull`, { token: p.maintainer.token }),
        (answer) => answer.body.update_status === 'finished',
      );
      assert.equal((await pipelines(c, p.projectId)).length, 0, 'what was there before starts nothing');
      const before = repo.git('rev-parse', 'HEAD');
      const after = await repo.commit({ 'a.txt': 'a' }, 'second');
      const [pipeline] = await eventually(
        'a push pipeline',
        () => pipelines(c, p.projectId),
        (list) => list.length > 0,
      );
      assert.equal(pipeline!.source, 'push');
      assert.equal(pipeline!.sha, after);
      assert.equal(pipeline!.user.id, p.maintainer.id);
      const job = await requestJob(c, runner);
      assert.ok(job);
      assert.equal(variable(job, 'CI_PIPELINE_SOURCE'), 'push');
      assert.equal(variable(job, 'CI_COMMIT_BEFORE_SHA'), before);
      const claims = decodeJwt(variable(job, 'ID') ?? '');
      assert.equal(claims.pipeline_source, 'push');
      assert.equal(claims.user_login, 'maint-app', 'user claims name the mirror user');
      assert.equal(claims.ref_protected, 'false');
      await updateJob(c, job, { state: 'success' });
      await sleep(2500);
      assert.equal(
        (await pipelines(c, p.projectId)).length,
        1,
        'an unchanged repository starts nothing more',
      );
    });

    it('webhooks signed like GitHub, Gitea and GitLab start pipelines at once; tags too; wrong signatures get 401', async () => {
      const repo = await makeRepository({ '.gitlab-ci.yml': CONFIG });
      const c = await startTestCoordinator(dialect, { mirrorInterval: 3600 });
      const p = await setUpProject(c, repo.path);
      const runner = await registerRunner(c);
      const enabled = await c.api('PUT', `/api/v4/projects/${p.projectId}`, {
        token: p.maintainer.token,
        body: { mirror: true, mirror_trigger_builds: true, mirror_webhook_secret: SECRET },
      });
      assert.equal(enabled.status, 200, enabled.text);
      assert.ok(!enabled.text.includes(SECRET), 'the secret is write-only');
      const forbidden = await c.api('PUT', `/api/v4/projects/${p.projectId}`, {
        token: p.maintainer.token,
        body: { mirror_user_id: p.developer.id },
      });
      assert.equal(forbidden.status, 403, 'only an administrator names another mirror user');

      // The first call is the first look: it records the refs.
      const ping = '{"zen":"Design for failure."}';
      const first = await signedPost(c, p.projectId, ping, { 'x-hub-signature-256': hubSignature(ping) });
      assert.equal(first.status, 200, first.text);
      assert.deepEqual(first.body.pipelines, []);

      const main1 = repo.git('rev-parse', 'HEAD');
      const main2 = await repo.commit({ 'b.txt': 'b' });
      const push = JSON.stringify({ ref: 'refs/heads/main', after: main2 });
      const github = await signedPost(c, p.projectId, push, {
        'x-github-event': 'push',
        'x-hub-signature-256': hubSignature(push),
      });
      assert.equal(github.status, 200, github.text);
      assert.equal(github.body.pipelines.length, 1);
      assert.equal(github.body.pipelines[0].ref, 'main');
      assert.equal(github.body.pipelines[0].before_sha, main1);
      const job = await requestJob(c, runner);
      assert.ok(job);
      assert.equal(variable(job, 'CI_COMMIT_BEFORE_SHA'), main1);
      assert.equal(variable(job, 'CI_COMMIT_SHA'), main2);
      await updateJob(c, job, { state: 'success' });

      // Gitea/Forgejo: the HMAC without a prefix.
      const main3 = await repo.commit({ 'c.txt': 'c' });
      const gitea = await signedPost(c, p.projectId, push, {
        'x-gitea-signature': createHmac('sha256', SECRET).update(push).digest('hex'),
      });
      assert.equal(gitea.status, 200, gitea.text);
      assert.equal(gitea.body.pipelines[0].sha, main3);

      // GitLab: the shared token. A new branch has zeros before; a new tag gives a tag pipeline.
      repo.git('branch', 'feature');
      repo.git('tag', '-a', 'v1.0.0', '-m', 'release');
      const gitlab = await signedPost(c, p.projectId, '{"object_kind":"push"}', { 'x-gitlab-token': SECRET });
      assert.equal(gitlab.status, 200, gitlab.text);
      const started = gitlab.body.pipelines as Array<{
        ref: string;
        tag: boolean;
        before_sha: string;
        sha: string;
        pipeline_id: number;
      }>;
      assert.deepEqual(
        started.map((entry) => [entry.ref, entry.tag, entry.before_sha, entry.sha]),
        [
          ['feature', false, ZERO, main3],
          ['v1.0.0', true, ZERO, main3],
        ],
      );
      const tagPipeline = (await pipelines(c, p.projectId)).find(
        (pipeline) => pipeline.id === started[1]!.pipeline_id,
      );
      assert.equal(tagPipeline?.tag, true);
      assert.equal(tagPipeline?.source, 'push');

      // A deleted branch starts nothing.
      repo.git('branch', '-D', 'feature');
      const deleted = await signedPost(c, p.projectId, '{}', { 'x-gitlab-token': SECRET });
      assert.equal(deleted.status, 200);
      assert.deepEqual(deleted.body.pipelines, []);

      // Wrong signatures, a wrong token, no signature at all: 401 (or the PAT rule), logged, nothing starts.
      const count = (await pipelines(c, p.projectId)).length;
      await repo.commit({ 'd.txt': 'd' });
      for (const headers of <Array<Record<string, string>>>[
        { 'x-hub-signature-256': hubSignature(push, 'wrong-secret') },
        { 'x-hub-signature-256': 'sha256=zz' },
        { 'x-gitea-signature': hubSignature(push).slice(7, -1) },
        { 'x-gitlab-token': `${SECRET}x` },
      ]) {
        const refused = await signedPost(c, p.projectId, push, headers);
        assert.equal(refused.status, 401, JSON.stringify(headers));
        assert.equal(refused.body.error, 'ERR_MIRROR_SIGNATURE_INVALID');
      }
      const unsigned = await signedPost(c, p.projectId, push, {});
      assert.equal(unsigned.status, 401);
      assert.equal(unsigned.body.error, 'ERR_AUTH_REQUIRED');
      const tampered = await signedPost(c, p.projectId, `${push} `, {
        'x-hub-signature-256': hubSignature(push),
      });
      assert.equal(tampered.status, 401, 'the signature covers the exact bytes');
      assert.equal((await pipelines(c, p.projectId)).length, count);
      assert.match(c.logs(), /mirror webhook refused/);
      assert.ok(!c.logs().includes(SECRET), 'the secret never reaches the log');

      // A maintainer's access token updates now too.
      const manual = await c.api('POST', `/api/v4/projects/${p.projectId}/mirror/pull`, {
        token: p.maintainer.token,
      });
      assert.equal(manual.status, 200, manual.text);
      assert.equal(manual.body.pipelines.length, 1);
      const developer = await c.api('POST', `/api/v4/projects/${p.projectId}/mirror/pull`, {
        token: p.developer.token,
      });
      assert.equal(developer.status, 403);
    });
  });
}

for (const dialect of testDialects()) {
  describe(`pull mirroring on two nodes [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('one node looks at a project at a time: a push starts one pipeline', async () => {
      const { updateMirror } = await import('../../src/triggers/update-mirror.js');
      const repo = await makeRepository({ '.gitlab-ci.yml': CONFIG });
      const a = await startTestCoordinator(dialect, { mirrorInterval: 3600 });
      const b = await startTestCoordinator(dialect, { mirrorInterval: 3600 }, { sameStoreAs: a });
      const p = await setUpProject(a, repo.path);
      await a.api('PUT', `/api/v4/projects/${p.projectId}`, {
        token: p.maintainer.token,
        body: { mirror: true, mirror_trigger_builds: true },
      });
      assert.equal((await updateMirror(a.server.coordinator, p.projectId)).baseline, true);
      await repo.commit({ 'x.txt': 'x' });
      const updates = await Promise.all([
        updateMirror(a.server.coordinator, p.projectId),
        updateMirror(b.server.coordinator, p.projectId),
        updateMirror(b.server.coordinator, p.projectId),
      ]);
      assert.equal(updates.filter((update) => update.claimed).length, 1, 'one lease holder at a time');
      assert.equal((await pipelines(a, p.projectId)).length, 1);
      const again = await updateMirror(b.server.coordinator, p.projectId);
      assert.equal(again.claimed, true, 'the lease is given back after the look');
      assert.deepEqual(again.pipelines, []);
    });
  });
}

describe('pull mirroring: a bare repository with the documented post-receive hook', () => {
  it('a push to the bare repository starts its pipeline through the signed webhook', async () => {
    const { execFile, execFileSync } = await import('node:child_process');
    const { promisify } = await import('node:util');
    // Asynchronously: the hook calls the coordinator, which runs in this very process.
    const push = () => promisify(execFile)('git', ['push', '--quiet', 'origin', 'main'], { cwd: work.path });
    const { chmod, mkdtemp, rm, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { after } = await import('node:test');
    const [sqlite] = testDialects();
    const dir = await mkdtemp(join(tmpdir(), 'tessera-bare-'));
    after(() => rm(dir, { recursive: true, force: true }));
    const bare = join(dir, 'app.git');
    execFileSync('git', ['init', '--bare', '--quiet', '--initial-branch=main', bare]);
    const work = await makeRepository({ '.gitlab-ci.yml': CONFIG });
    work.git('remote', 'add', 'origin', bare);
    const c = await startTestCoordinator(sqlite!, { mirrorInterval: 3600 });
    const p = await setUpProject(c, bare);
    await c.api('PUT', `/api/v4/projects/${p.projectId}`, {
      token: p.maintainer.token,
      body: { mirror: true, mirror_trigger_builds: true, mirror_webhook_secret: SECRET },
    });
    await writeFile(join(dir, 'webhook-secret'), SECRET, { mode: 0o600 });
    // The hook of docs/triggers.md, with this coordinator's URL and secret file.
    const hook = `#!/bin/sh
# Tell Tessera to look at this repository now; never fail the push because of it.
url=${c.url}/api/v4/projects/${p.projectId}/mirror/pull
secret=$(cat ${join(dir, 'webhook-secret')}) || exit 0
body='{"event":"post-receive"}'
signature=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$secret" -r | cut -d' ' -f1)
curl -fsS --max-time 10 -X POST -H 'Content-Type: application/json' \\
  -H "X-Hub-Signature-256: sha256=$signature" --data-binary "$body" "$url" >/dev/null 2>&1 || true
`;
    await writeFile(join(bare, 'hooks', 'post-receive'), hook);
    await chmod(join(bare, 'hooks', 'post-receive'), 0o755);
    await push();
    assert.equal((await pipelines(c, p.projectId)).length, 0, 'the first look records the refs');
    const sha = await work.commit({ 'e.txt': 'e' });
    await push();
    const list = await pipelines(c, p.projectId);
    assert.equal(list.length, 1, 'the push started its pipeline before git push returned');
    assert.equal(list[0]!.sha, sha);
    assert.equal(list[0]!.source, 'push');
  });
});

describe('pull mirroring settings', () => {
  it('only_mirror_protected_branches ignores other branches; mirror_trigger_builds off starts nothing', async () => {
    const { updateMirror } = await import('../../src/triggers/update-mirror.js');
    const [sqlite] = testDialects();
    const repo = await makeRepository({ '.gitlab-ci.yml': CONFIG });
    const c = await startTestCoordinator(sqlite!, { mirrorInterval: 3600 });
    const p = await setUpProject(c, repo.path);
    const coordinator = c.server.coordinator;
    await c.api('POST', `/api/v4/projects/${p.projectId}/protected_branches`, { body: { name: 'main' } });
    await c.api('PUT', `/api/v4/projects/${p.projectId}`, {
      token: p.maintainer.token,
      body: { mirror: true, mirror_trigger_builds: true, only_mirror_protected_branches: true },
    });
    await updateMirror(coordinator, p.projectId);
    repo.git('checkout', '--quiet', '-b', 'feature');
    await repo.commit({ 'f.txt': 'f' });
    assert.deepEqual(
      (await updateMirror(coordinator, p.projectId)).pipelines,
      [],
      'an unprotected branch is not mirrored',
    );
    repo.git('checkout', '--quiet', 'main');
    await repo.commit({ 'm.txt': 'm' });
    const update = await updateMirror(coordinator, p.projectId);
    assert.deepEqual(
      update.pipelines.map((entry) => entry.ref),
      ['main'],
    );
    assert.ok(update.pipelines[0]!.pipelineId !== null, update.pipelines[0]!.error ?? '');
    const shown = await c.api('GET', `/api/v4/projects/${p.projectId}`, { token: p.maintainer.token });
    assert.equal(shown.body.only_mirror_protected_branches, true);

    await c.api('PUT', `/api/v4/projects/${p.projectId}`, {
      token: p.maintainer.token,
      body: { mirror_trigger_builds: false },
    });
    await repo.commit({ 'n.txt': 'n' });
    const quiet = await updateMirror(coordinator, p.projectId);
    assert.equal(quiet.claimed, true);
    assert.deepEqual(quiet.pipelines, []);
    assert.equal((await pipelines(c, p.projectId)).length, 1);
  });
});
