// include:project and include:component through the lint API of a real coordinator (real git
// repositories, real HTTP): files of other projects read at a branch, tag or commit with the
// caller's access, components by version (~latest, partial, tag, SHA), nested include:local in the
// included project, the errors (a private project reads as a missing one), and the limits.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { makeRepository } from '../coordinator/git-fixture.js';
import { setUpProject } from '../coordinator/project-fixture.js';
import { testDialects } from '../store/dialects.js';
import { startTestCoordinator, type TestCoordinator } from './harness.js';

const greet = (version: string) =>
  `spec:\n  inputs:\n    greeting:\n      default: hello\n---\ngreet:\n  script:\n    - echo "$[[ inputs.greeting ]] ${version}"\n`;

interface Lint {
  valid: boolean;
  errors: string[];
  warnings: string[];
  merged_yaml: string | null;
  includes: Array<{
    type: string;
    location: string;
    blob: string | null;
    raw: string | null;
    extra: Record<string, string>;
    context_project: string | null;
    context_sha: string | null;
  }>;
  jobs?: Array<{ name: string; script: string[] }>;
}

async function lint(c: TestCoordinator, projectId: number, token: string, content: string): Promise<Lint> {
  const answer = await c.api('POST', `/api/v4/projects/${projectId}/ci/lint`, {
    token,
    body: { content, include_jobs: true },
  });
  assert.equal(answer.status, 200, answer.text);
  return answer.body as Lint;
}

for (const dialect of testDialects()) {
  describe(`lint API: include:project and include:component [${dialect.name}]`, {
    skip: dialect.skip,
  }, () => {
    it('reads files of other projects and components with the caller’s access, and says what is wrong', async () => {
      const templates = await makeRepository({
        'ci/build.yml':
          'include:\n  - local: /ci/common.yml\nfrom-project:\n  extends: .common\n  script: [echo v1]\n',
        'ci/common.yml': '.common:\n  variables: { FROM: templates }\n',
        'ci/empty.yml': '',
        'ci/missing-local.yml': 'include: ci/nowhere.yml\nx:\n  script: [echo]\n',
        'templates/greet.yml': greet('v1.0.0'),
        'templates/deploy/template.yml': 'deploy:\n  script: [echo deploy]\n',
      });
      const firstSha = templates.git('rev-parse', 'HEAD');
      templates.git('tag', 'v1.0.0');
      await templates.commit({
        'templates/greet.yml': greet('v1.2.0'),
        'ci/build.yml': 'from-project:\n  script: [echo main]\n',
      });
      templates.git('tag', 'v1.2.0');
      await templates.commit({ 'templates/greet.yml': greet('unreleased') });
      const app = await makeRepository({
        '.gitlab-ci.yml': 'app:\n  script: [echo]\n',
        'ci/common.yml': '.common: {}\n',
      });
      const secret = await makeRepository({ 'ci/build.yml': 'secret:\n  script: [echo]\n' });

      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, app.path);
      const group = await c.api('GET', '/api/v4/groups');
      const acme = group.body.find((candidate: { path: string }) => candidate.path === 'acme').id;
      const created = await c.api('POST', '/api/v4/projects', {
        body: { name: 'templates', path: 'templates', namespace_id: acme, repository_url: templates.path },
      });
      assert.equal(created.status, 201, created.text);
      // A private project of another group, in which the developer is no member.
      const other = await c.api('POST', '/api/v4/groups', { body: { name: 'Secret', path: 'secret' } });
      const hidden = await c.api('POST', '/api/v4/projects', {
        body: { name: 'vault', path: 'vault', namespace_id: other.body.id, repository_url: secret.path },
      });
      assert.equal(hidden.status, 201, hidden.text);
      const fqdn = new URL(c.server.coordinator.urls.serverUrl).host;
      const dev = p.developer.token;

      // A file of a tag with its nested include:local read in that project; components by partial
      // version, by commit SHA (templates/<name>/template.yml), by $CI_SERVER_FQDN.
      const valid = await lint(
        c,
        p.projectId,
        dev,
        `include:
  - project: acme/templates
    ref: v1.0.0
    file: [/ci/build.yml]
  - component: $CI_SERVER_FQDN/acme/templates/greet@1
    inputs: { greeting: bonjour }
  - component: ${fqdn}/acme/templates/deploy@${firstSha}
`,
      );
      assert.equal(valid.valid, true, valid.errors.join('\n'));
      const job = (name: string) => valid.jobs?.find((candidate) => candidate.name === name);
      assert.deepEqual(job('from-project')?.script, ['echo v1']);
      assert.deepEqual(job('greet')?.script, ['echo "bonjour v1.2.0"']);
      assert.deepEqual(job('deploy')?.script, ['echo deploy']);
      assert.match(valid.merged_yaml ?? '', /FROM: templates/);
      const appSha = app.git('rev-parse', 'HEAD');
      const base = c.server.coordinator.urls.serverUrl;
      assert.deepEqual(valid.includes, [
        {
          type: 'file',
          location: 'ci/build.yml',
          blob: `${base}/acme/templates/-/blob/${firstSha}/ci/build.yml`,
          raw: `${base}/acme/templates/-/raw/${firstSha}/ci/build.yml`,
          extra: { project: 'acme/templates', ref: 'v1.0.0' },
          context_project: 'acme/app',
          context_sha: appSha,
        },
        {
          type: 'local',
          location: 'ci/common.yml',
          blob: `${base}/acme/templates/-/blob/${firstSha}/ci/common.yml`,
          raw: `${base}/acme/templates/-/raw/${firstSha}/ci/common.yml`,
          extra: {},
          context_project: 'acme/templates',
          context_sha: firstSha,
        },
        {
          type: 'component',
          location: `${fqdn}/acme/templates/greet@1`,
          blob: `${base}/acme/templates/-/blob/${templates.git('rev-parse', 'v1.2.0')}/templates/greet.yml`,
          raw: null,
          extra: {},
          context_project: 'acme/app',
          context_sha: appSha,
        },
        {
          type: 'component',
          location: `${fqdn}/acme/templates/deploy@${firstSha}`,
          blob: `${base}/acme/templates/-/blob/${firstSha}/templates/deploy/template.yml`,
          raw: null,
          extra: {},
          context_project: 'acme/app',
          context_sha: appSha,
        },
      ]);

      // No ref: the default branch; ~latest: the newest released semantic version; $CI_SERVER_HOST
      // (without the port) names this instance too.
      const latest = await lint(
        c,
        p.projectId,
        dev,
        `include:\n  - { project: acme/templates, file: ci/build.yml }\n  - component: $CI_SERVER_HOST/acme/templates/greet@~latest\n`,
      );
      assert.equal(latest.valid, true, latest.errors.join('\n'));
      assert.deepEqual(latest.jobs?.find((candidate) => candidate.name === 'from-project')?.script, [
        'echo main',
      ]);
      assert.deepEqual(latest.jobs?.find((candidate) => candidate.name === 'greet')?.script, [
        'echo "hello v1.2.0"',
      ]);

      // A private project the caller cannot read answers exactly as a missing one.
      const denied = await lint(
        c,
        p.projectId,
        dev,
        'include:\n  - { project: secret/vault, file: ci/build.yml }\n',
      );
      const missing = await lint(
        c,
        p.projectId,
        dev,
        'include:\n  - { project: secret/nope, file: ci/build.yml }\n',
      );
      assert.equal(denied.valid, false);
      assert.deepEqual(
        denied.errors,
        missing.errors.map((error) => error.replace('secret/nope', 'secret/vault')),
      );
      assert.match(
        denied.errors[0] ?? '',
        /^include\[0\]: .*project "secret\/vault" not found, or dev-app may not read it \(line 2\)$/,
      );
      // The administrator reads it.
      assert.equal(
        (
          await lint(
            c,
            p.projectId,
            c.adminToken,
            'include:\n  - { project: secret/vault, file: ci/build.yml }\n',
          )
        ).valid,
        true,
      );

      // Each failure names the project, ref and file, at the include entry's path and line.
      const broken = await lint(
        c,
        p.projectId,
        dev,
        `include:
  - { project: acme/templates, ref: v9, file: ci/build.yml }
  - { project: acme/templates, file: ci/absent.yml }
  - { project: acme/templates, ref: v1.0.0, file: ci/empty.yml }
  - { project: acme/templates, ref: v1.0.0, file: ci/missing-local.yml }
  - { project: acme/templates, ref: ${'f'.repeat(40)}, file: ci/build.yml }
  - component: evil.example/acme/templates/greet@1.0.0
  - component: ${fqdn}/acme/app/greet@~latest
  - component: ${fqdn}/acme/templates/nothing@v1.0.0
  - component: ${fqdn}/acme/templates
  - template: Jobs/SAST.gitlab-ci.yml
  - { project: acme/templates }
app:
  script: [echo]
`,
      );
      const errors = broken.errors.join('\n');
      assert.equal(broken.valid, false);
      assert.match(
        errors,
        /include\[0\]: .*project "acme\/templates" has no branch, tag or commit "v9" \(line 2\)/,
      );
      assert.match(
        errors,
        /include\[1\]: file "ci\/absent.yml" does not exist in project "acme\/templates" at its default branch \(main\) \(line 3\)/,
      );
      assert.match(
        errors,
        /include\[2\]: file "ci\/empty.yml" of project "acme\/templates" at ref "v1.0.0" is empty \(line 4\)/,
      );
      assert.match(errors, /local file "ci\/nowhere.yml" does not exist in project "acme\/templates"/);
      assert.match(errors, new RegExp(`include\\[4\\]: .*no branch, tag or commit "${'f'.repeat(40)}"`));
      assert.match(errors, /include\[5\]\.component: .*"evil.example" is not this instance/);
      assert.match(
        errors,
        /include\[6\]\.component: .*"acme\/app" has no tag that is a released semantic version/,
      );
      assert.match(
        errors,
        /include\[7\]\.component: .*no templates\/nothing\.yml or templates\/nothing\/template\.yml at v1\.0\.0/,
      );
      assert.match(errors, /include\[8\]\.component: .*is not a component address \(it names no version\)/);
      assert.match(
        errors,
        /include\[9\]\.template: GitLab's template "Jobs\/SAST.gitlab-ci.yml" is not shipped with Tessera: vendor it .*include: \{ local: ci\/templates\/SAST.gitlab-ci.yml \}/,
      );
      assert.match(errors, /include\[10\]\.file: is required/);
    });

    it('bounds project files by size and count, names a failing git read, and stops include cycles across projects', async () => {
      const templates = await makeRepository({
        'ci/job.yml': 'shared:\n  script: [echo]\n',
        // Includes itself through its project: merged once, never looping.
        'ci/loop.yml':
          'include:\n  - { project: acme/templates, file: ci/loop.yml }\nlooped:\n  script: [echo]\n',
        'ci/huge.yml': `huge:\n  script:\n${'    - echo 0123456789012345678901234567890123456789\n'.repeat(24_000)}`,
      });
      const gone = await makeRepository({ 'ci/job.yml': 'gone:\n  script: [echo]\n' });
      const app = await makeRepository({ '.gitlab-ci.yml': 'app:\n  script: [echo]\n' });
      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, app.path);
      const acme = (await c.api('GET', '/api/v4/groups')).body[0].id;
      await c.api('POST', '/api/v4/projects', {
        body: { name: 'templates', path: 'templates', namespace_id: acme, repository_url: templates.path },
      });
      await c.api('POST', '/api/v4/projects', {
        body: { name: 'gone', path: 'gone', namespace_id: acme, repository_url: gone.path },
      });
      await rm(gone.path, { recursive: true, force: true });
      const failing = await lint(
        c,
        p.projectId,
        p.developer.token,
        'include:\n  - { project: acme/templates, file: ci/huge.yml }\n  - { project: acme/gone, ref: v1, file: ci/job.yml }\n',
      );
      assert.equal(failing.valid, false);
      assert.match(
        failing.errors.join('\n'),
        /ci\/huge.yml of acme\/templates at main: the file is larger than 1048576 bytes/,
      );
      assert.match(
        failing.errors.join('\n'),
        /include\[1\]: cannot include "ci\/job.yml": cannot read project "acme\/gone" at "v1": cannot read the repository/,
      );
      const entry = '  - { project: acme/templates, file: ci/job.yml }\n';
      const many = await lint(c, p.projectId, p.developer.token, `include:\n${entry.repeat(151)}`);
      assert.equal(many.valid, false);
      assert.match(many.errors.join('\n'), /include\[150\]: more than 150 includes/);
      const fine = await lint(c, p.projectId, p.developer.token, `include:\n${entry.repeat(150)}`);
      assert.equal(fine.valid, true, fine.errors.join('\n'));
      const loop = await lint(
        c,
        p.projectId,
        p.developer.token,
        'include:\n  - { project: acme/templates, file: ci/loop.yml }\n',
      );
      assert.equal(loop.valid, true, loop.errors.join('\n'));
      assert.deepEqual(
        loop.jobs?.map((job) => job.name),
        ['looped'],
      );
    });
  });
}
