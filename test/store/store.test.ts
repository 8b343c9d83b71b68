import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { repositories } from '../../src/store/repositories.js';
import { isUniqueViolation } from '../../src/store/unique-violation.js';
import { testDialects } from './dialects.js';
import { seedJobs } from './seed-jobs.js';

const now = 1_790_000_000_000;

for (const dialect of testDialects()) {
  describe(`store [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('migrates, stores users and groups, and rejects duplicates as unique violations', async () => {
      const store = await dialect.openStore();
      const repos = repositories(store.db);
      const user = await repos.users.create({
        username: 'ada',
        email: 'ada@example.com',
        name: 'Ada',
        isAdmin: true,
        createdAt: now,
      });
      assert.equal(user.isAdmin, true);
      assert.equal((await repos.users.findByUsername('ada'))?.id, user.id);
      await assert.rejects(
        repos.users.create({
          username: 'ada',
          email: 'x@example.com',
          name: 'X',
          isAdmin: false,
          createdAt: now,
        }),
        (error) => isUniqueViolation(error),
      );
      const top = await repos.groups.create({
        name: 'Acme',
        path: 'acme',
        fullPath: 'acme',
        parentId: null,
        visibility: 'private',
        createdAt: now,
      });
      const sub = await repos.groups.create({
        name: 'Platform',
        path: 'platform',
        fullPath: 'acme/platform',
        parentId: top.id,
        visibility: 'private',
        createdAt: now,
      });
      assert.deepEqual(
        (await repos.groups.lineage(sub.id)).map((g) => g.fullPath),
        ['acme/platform', 'acme'],
      );
    });

    it('keeps millisecond times and JSON columns exact, and tracks project path history', async () => {
      const store = await dialect.openStore();
      const repos = repositories(store.db);
      const group = await repos.groups.create({
        name: 'g',
        path: 'g',
        fullPath: 'g',
        parentId: null,
        visibility: 'private',
        createdAt: now,
      });
      const base = {
        namespaceId: group.id,
        visibility: 'private',
        repositoryUrl: '/tmp/none',
        defaultBranch: 'main',
        ciConfigPath: '.gitlab-ci.yml',
        subClaimComponents: ['project_path', 'ref_type', 'ref'],
        allowedAudiences: null,
        tokenMaxLifetime: null,
        jobTimeout: null,
        createdAt: now,
        updatedAt: now,
      };
      const first = await repos.projects.create({ ...base, name: 'a', path: 'a', pathWithNamespace: 'g/a' });
      assert.equal(first.createdAt, now);
      assert.deepEqual(first.subClaimComponents, ['project_path', 'ref_type', 'ref']);
      await repos.projects.update(first.id, { path: 'b', pathWithNamespace: 'g/b' }, now + 1);
      const second = await repos.projects.create({
        ...base,
        name: 'a2',
        path: 'a',
        pathWithNamespace: 'g/a',
      });
      assert.equal(await repos.projects.pathHeldByAnother(second.id, 'g/a'), true);
      assert.equal(await repos.projects.pathHeldByAnother(first.id, 'g/b'), false);
      const updated = await repos.projects.update(
        second.id,
        { allowedAudiences: ['https://vault'] },
        now + 2,
      );
      assert.deepEqual(updated.allowedAudiences, ['https://vault']);
      assert.equal(updated.updatedAt, now + 2);
    });

    it('implements the signing key repository with atomic transactions', async () => {
      const store = await dialect.openStore();
      const keys = repositories(store.db).signingKeys;
      const record = {
        kid: 'k1',
        alg: 'RS256' as const,
        state: 'next' as const,
        publicJwk: {
          kty: 'RSA' as const,
          kid: 'k1',
          use: 'sig' as const,
          alg: 'RS256' as const,
          n: 'AQAB',
          e: 'AQAB',
        },
        encryptedPrivateKey: 'v1.a.b.c',
        createdAt: now,
        activatedAt: null,
        deactivatedAt: null,
        retireAfter: null,
        revokedAt: null,
      };
      await keys.insertSigningKey(record);
      await assert.rejects(
        keys.transaction(async (tx) => {
          await tx.updateSigningKey('k1', { state: 'current', activatedAt: now });
          throw new Error('abort');
        }),
      );
      assert.equal((await keys.listSigningKeys())[0]?.state, 'next');
      await keys.transaction((tx) => tx.updateSigningKey('k1', { state: 'current', activatedAt: now + 5 }));
      assert.deepEqual(await keys.listSigningKeys(), [{ ...record, state: 'current', activatedAt: now + 5 }]);
      await assert.rejects(keys.updateSigningKey('missing', { state: 'retired' }), TypeError);
    });

    it('appends job logs and records the issued-token audit', async () => {
      const store = await dialect.openStore();
      const repos = repositories(store.db);
      const [jobId = 0] = await seedJobs(store, 1);
      const job = await repos.jobs.findById(jobId);
      assert.ok(job);
      const project = { id: job.projectId };
      const pipeline = await repos.pipelines.findById(job.pipelineId);
      assert.ok(pipeline);
      assert.equal(pipeline.iid, 1);
      assert.equal(await repos.jobs.appendTrace(job.id, 'é\n'), 3);
      assert.equal(await repos.jobs.appendTrace(job.id, 'ok'), 5);
      // A 4-byte character split over three chunks, and a NUL that PostgreSQL could not store.
      const smile = Buffer.from('😀', 'utf8');
      assert.equal(await repos.jobs.appendTrace(job.id, smile.subarray(0, 1)), 6);
      assert.equal(await repos.jobs.appendTrace(job.id, smile.subarray(1, 3)), 8);
      assert.equal(await repos.jobs.readTrace(job.id), 'é\nok');
      assert.equal(
        await repos.jobs.appendTrace(job.id, Buffer.concat([smile.subarray(3), Buffer.from([0])])),
        10,
      );
      assert.equal(await repos.jobs.readTrace(job.id), 'é\nok😀');
      assert.deepEqual(await repos.jobs.traceState(job.id), { bytes: 10, pending: '' });
      // With the state just read, the append is the same.
      const state = await repos.jobs.traceState(job.id);
      assert.equal(await repos.jobs.appendTrace(job.id, smile.subarray(0, 2), state), 12);
      assert.deepEqual(await repos.jobs.traceState(job.id), {
        bytes: 12,
        pending: smile.subarray(0, 2).toString('hex'),
      });
      assert.equal(
        await repos.jobs.appendTrace(job.id, smile.subarray(2), await repos.jobs.traceState(job.id)),
        14,
      );
      assert.equal(await repos.jobs.readTrace(job.id), 'é\nok😀😀');
      assert.equal(await repos.jobs.transition(job.id, ['pending'], { status: 'running' }), true);
      assert.equal(await repos.jobs.transition(job.id, ['pending'], { status: 'running' }), false);
      await repos.issuedTokens.recordIssuedToken({
        jti: 'j1',
        projectId: project.id,
        pipelineId: pipeline.id,
        jobId: job.id,
        aud: ['a', 'b'],
        sub: 's',
        kid: 'k',
        alg: 'RS256',
        iat: 1_790_000_000,
        exp: 1_790_003_600,
        issuedVia: 'pre-issued',
      });
      const [audit] = await repos.issuedTokens.listByProject(project.id);
      assert.deepEqual(audit?.aud, ['a', 'b']);
      assert.equal(audit?.exp, 1_790_003_600);
    });
  });
}
