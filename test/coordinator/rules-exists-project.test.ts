// rules:exists with project and ref through a real coordinator and real git repositories: jobs,
// workflow and include rules that look at a file of another project at a ref or at its default
// branch, read with the pipeline user's access (a private project the user cannot read answers
// exactly as a missing one), and the lint API resolving them on a dry run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTestCoordinator, type TestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';
import { makeRepository } from './git-fixture.js';
import { setUpProject } from './project-fixture.js';

const CONFIG = `variables:
  OLD_REF: old
include:
  - local: ci/when-docker-at-default.yml
    rules:
      - exists: { paths: [Dockerfile], project: acme/templates }
  - local: ci/when-docker-at-old.yml
    rules:
      - exists: { paths: [Dockerfile], project: acme/templates, ref: old }
at-default:
  script: [echo]
  rules:
    - exists:
        paths: [Dockerfile]
        project: acme/templates
at-old:
  script: [echo]
  rules:
    - exists:
        paths: [Dockerfile]
        project: acme/$TEMPLATES_NAME
        ref: $OLD_REF
old-readme:
  script: [echo]
  rules:
    - exists: { paths: ['docs/*.md'], project: acme/templates, ref: old }
`;

const hiddenConfig = (project: string) => `build:
  script: [echo]
  rules:
    - if: $CI_COMMIT_BRANCH
      exists:
        paths: [Dockerfile]
        project: ${project}
`;

async function jobNames(c: TestCoordinator, projectId: number, pipelineId: number): Promise<string[]> {
  const jobs = await c.api('GET', `/api/v4/projects/${projectId}/pipelines/${pipelineId}/jobs`);
  assert.equal(jobs.status, 200, jobs.text);
  return (jobs.body as { name: string }[]).map((job) => job.name).sort();
}

for (const dialect of testDialects()) {
  describe(`rules:exists:project [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('includes a job by a file of another project at a ref or its default branch, with the user’s access', async () => {
      // templates: tag "old" has docs only; main (the default branch) then gains a Dockerfile.
      const templates = await makeRepository({ 'docs/README.md': '# templates\n' });
      templates.git('tag', 'old');
      await templates.commit({ Dockerfile: 'FROM scratch\n' });
      const secret = await makeRepository({ Dockerfile: 'FROM scratch\n' });
      const app = await makeRepository({
        '.gitlab-ci.yml': CONFIG,
        'ci/when-docker-at-default.yml': 'included-at-default:\n  script: [echo]\n',
        'ci/when-docker-at-old.yml': 'included-at-old:\n  script: [echo]\n',
      });
      app.git('checkout', '--quiet', '-b', 'hidden');
      await app.commit({ '.gitlab-ci.yml': hiddenConfig('secret/vault') });
      app.git('checkout', '--quiet', '-b', 'missing');
      await app.commit({ '.gitlab-ci.yml': hiddenConfig('secret/nothing') });
      app.git('checkout', '--quiet', '-b', 'workflow', 'main');
      await app.commit({
        '.gitlab-ci.yml': `workflow:
  rules:
    - exists: { paths: [Dockerfile], project: acme/templates, ref: old }
build:
  script: [echo]
`,
      });
      app.git('checkout', '--quiet', 'main');

      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, app.path);
      const made = await c.api('POST', '/api/v4/projects', {
        body: {
          name: 'templates',
          path: 'templates',
          namespace_id: p.groupId,
          repository_url: templates.path,
        },
      });
      assert.equal(made.status, 201, made.text);
      // A private project of another group, in which the developer is no member.
      const other = await c.api('POST', '/api/v4/groups', { body: { name: 'Secret', path: 'secret' } });
      const vault = await c.api('POST', '/api/v4/projects', {
        body: { name: 'vault', path: 'vault', namespace_id: other.body.id, repository_url: secret.path },
      });
      assert.equal(vault.status, 201, vault.text);
      await c.api('POST', `/api/v4/projects/${p.projectId}/variables`, {
        body: { key: 'TEMPLATES_NAME', value: 'templates' },
      });
      const dev = p.developer.token;
      const create = (ref: string) =>
        c.api('POST', `/api/v4/projects/${p.projectId}/pipeline`, { token: dev, body: { ref } });

      const main = await create('main');
      assert.equal(main.status, 201, main.text);
      assert.deepEqual(await jobNames(c, p.projectId, main.body.id), [
        'at-default',
        'included-at-default',
        'old-readme',
      ]);

      // Once the tag has the Dockerfile too, the jobs looking at it come in.
      templates.git('checkout', '--quiet', 'main');
      templates.git('tag', '-f', 'old');
      const moved = await create('main');
      assert.equal(moved.status, 201, moved.text);
      assert.deepEqual(await jobNames(c, p.projectId, moved.body.id), [
        'at-default',
        'at-old',
        'included-at-default',
        'included-at-old',
        'old-readme',
      ]);

      // A private project the user cannot read answers exactly as one that does not exist.
      const hidden = await create('hidden');
      const missing = await create('missing');
      assert.equal(hidden.status, missing.status);
      assert.equal(hidden.status, 400, hidden.text);
      assert.equal(hidden.text.replaceAll('secret/vault', 'secret/nothing'), missing.text);
      assert.match(
        hidden.text,
        /jobs\.build\.rules\[0\]\.exists\.project: rules:exists cannot look in project \\"secret\/vault\\": project \\"secret\/vault\\" not found, or dev-app may not read it \(line 7\)/,
      );
      // An administrator reads it: the job comes in.
      const asAdmin = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline`, {
        body: { ref: 'hidden' },
      });
      assert.equal(asAdmin.status, 201, asAdmin.text);
      assert.deepEqual(await jobNames(c, p.projectId, asAdmin.body.id), ['build']);

      // workflow:rules look in the other project too (the moved tag now has the Dockerfile).
      const workflow = await create('workflow');
      assert.equal(workflow.status, 201, workflow.text);
      templates.git('tag', '-f', 'old', 'old~1');
      const refused = await create('workflow');
      assert.equal(refused.status, 400, refused.text);
      assert.match(refused.text, /filtered out by workflow rules/);
    });

    it('the lint API resolves them with the caller’s access on a dry run', async () => {
      const templates = await makeRepository({ Dockerfile: 'FROM scratch\n' });
      const app = await makeRepository({ '.gitlab-ci.yml': 'x:\n  script: [echo]\n' });
      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, app.path);
      await c.api('POST', '/api/v4/projects', {
        body: {
          name: 'templates',
          path: 'templates',
          namespace_id: p.groupId,
          repository_url: templates.path,
        },
      });
      const lint = async (content: string) => {
        const answer = await c.api('POST', `/api/v4/projects/${p.projectId}/ci/lint`, {
          token: p.developer.token,
          body: { content, dry_run: true, include_jobs: true },
        });
        assert.equal(answer.status, 200, answer.text);
        return answer.body as { valid: boolean; errors: string[]; jobs: { name: string }[] };
      };
      const found = await lint(`present:
  script: [echo]
  rules:
    - exists: { paths: [Dockerfile], project: acme/templates, ref: main }
absent:
  script: [echo]
  rules:
    - exists: { paths: [Makefile], project: acme/templates }
`);
      assert.equal(found.valid, true, found.errors.join('\n'));
      assert.deepEqual(
        found.jobs.map((job) => job.name),
        ['present'],
      );
      // include:rules too, and a private project of another group reads as a missing one there.
      const secret = await makeRepository({ Dockerfile: 'FROM scratch\n' });
      const other = await c.api('POST', '/api/v4/groups', { body: { name: 'Secret', path: 'secret' } });
      await c.api('POST', '/api/v4/projects', {
        body: { name: 'vault', path: 'vault', namespace_id: other.body.id, repository_url: secret.path },
      });
      const includeRule = (project: string) => `include:
  - local: .gitlab-ci.yml
    rules:
      - exists: { paths: [Dockerfile], project: ${project} }
y:
  script: [echo]
`;
      const included = await lint(includeRule('acme/templates'));
      assert.deepEqual(
        included.jobs.map((job) => job.name),
        ['x', 'y'],
      );
      const hidden = await lint(includeRule('secret/vault'));
      const missing = await lint(includeRule('secret/nothing'));
      assert.equal(hidden.valid, false);
      assert.deepEqual(
        hidden.errors.map((error) => error.replaceAll('secret/vault', 'secret/nothing')),
        missing.errors,
      );
      assert.deepEqual(hidden.errors, [
        'include[0].rules[0].exists.project: rules:exists cannot look in project "secret/vault": project "secret/vault" not found, or dev-app may not read it (line 4)',
      ]);
      const wrongRef = await lint(`present:
  script: [echo]
  rules:
    - exists: { paths: [Dockerfile], project: acme/templates, ref: nowhere }
`);
      assert.equal(wrongRef.valid, false);
      assert.deepEqual(wrongRef.errors, [
        'jobs.present.rules[0].exists.project: rules:exists cannot look in project "acme/templates": project "acme/templates" has no branch, tag or commit "nowhere" (line 4)',
      ]);
    });
  });
}
