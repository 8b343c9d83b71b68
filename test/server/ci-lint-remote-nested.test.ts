// The includes of a file fetched with include:remote, through the lint API of a real coordinator
// (a loopback HTTPS server, real git repositories): GitLab reads them as an anonymous user, so
// include:project and include:component of public projects work there, while an internal or
// private project (one the caller could read) answers as a missing one, and include:local is refused.
// The component also reads its context ($[[ component.* ]]) from the real repository.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeRepository } from '../coordinator/git-fixture.js';
import { setUpProject } from '../coordinator/project-fixture.js';
import { startIncludeServers } from '../coordinator/remote-include-server.js';
import { testDialects } from '../store/dialects.js';
import { startTestCoordinator } from './harness.js';

const files: Parameters<typeof startIncludeServers>[0] = {};
const servers = await startIncludeServers(files);

for (const dialect of testDialects()) {
  describe(`lint API: the includes of a remote file [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('reads public projects and components there, and answers internal and private ones as missing', async () => {
      const templates = (marker: string) =>
        makeRepository({
          'ci/shared.yml': `include: ci/inner.yml\nshared-${marker}:\n  extends: .inner\n  script: [echo $FROM]\n`,
          'ci/inner.yml': `.inner:\n  variables: { FROM: ${marker} }\n`,
          'templates/greet.yml': `spec:\n  component: [sha, version, reference]\n  inputs:\n    who: { default: world }\n---\ngreet-${marker}:\n  script: ["echo hello $[[ inputs.who ]] $[[ component.version ]] $[[ component.reference ]] $[[ component.sha ]]"]\n`,
        });
      const open = await templates('public');
      open.git('tag', '1.0.0');
      const internal = await templates('internal');
      const closed = await templates('private');
      const app = await makeRepository({ '.gitlab-ci.yml': 'app:\n  script: [echo]\n' });
      const c = await startTestCoordinator(dialect, {
        includeRemoteHosts: '127.0.0.1',
        includeRemoteCaFile: servers.caFile,
      });
      try {
        const p = await setUpProject(c, app.path);
        for (const [path, repository, visibility] of [
          ['open', open, 'public'],
          ['inside', internal, 'internal'],
          ['closed', closed, 'private'],
        ] as const) {
          const created = await c.api('POST', '/api/v4/projects', {
            body: { name: path, path, namespace_id: p.groupId, repository_url: repository.path, visibility },
          });
          assert.equal(created.status, 201, created.text);
        }
        const host = new URL(c.server.coordinator.urls.serverUrl).host;
        files['/public.yml'] =
          `include:\n  - { project: acme/open, file: ci/shared.yml }\n  - component: ${host}/acme/open/greet@~latest\n    inputs: { who: remote }\nremote-job:\n  script: [echo r]\n`;
        for (const name of ['inside', 'closed', 'nowhere'])
          files[`/${name}.yml`] = `include:\n  - { project: acme/${name}, file: ci/shared.yml }\n`;
        files['/component-closed.yml'] = `include:\n  - component: ${host}/acme/closed/greet@1.0.0\n`;
        files['/local.yml'] = 'include: ci/shared.yml\n';

        const lint = async (file: string) => {
          const answer = await c.api('POST', `/api/v4/projects/${p.projectId}/ci/lint`, {
            token: p.developer.token,
            body: {
              content: `include: ${servers.https}/${file}\napp:\n  script: [echo]\n`,
              include_jobs: true,
            },
          });
          assert.equal(answer.status, 200, answer.text);
          return answer.body as {
            valid: boolean;
            errors: string[];
            jobs?: Array<{ name: string; script: string[] }>;
            includes: Array<{ type: string; location: string; context_project: string | null }>;
          };
        };

        const ok = await lint('public.yml');
        assert.equal(ok.valid, true, ok.errors.join('\n'));
        assert.deepEqual(
          ok.jobs?.map((job) => [job.name, job.script]),
          [
            ['shared-public', ['echo $FROM']],
            ['greet-public', [`echo hello remote 1.0.0 ~latest ${open.git('rev-parse', 'HEAD')}`]],
            ['remote-job', ['echo r']],
            ['app', ['echo']],
          ],
        );
        assert.deepEqual(
          ok.includes.map((include) => [include.type, include.location]),
          [
            ['remote', `${servers.https}/public.yml`],
            ['file', 'ci/shared.yml'],
            ['local', 'ci/inner.yml'],
            ['component', `${host}/acme/open/greet@~latest`],
          ],
        );

        // The developer may read the internal and private projects; the remote file's reader may not.
        const refused = async (file: string) => {
          const answer = await lint(file);
          assert.equal(answer.valid, false, file);
          return answer.errors.join('\n');
        };
        const missing = await refused('nowhere.yml');
        assert.match(missing, /project "acme\/nowhere" not found, or not public/);
        for (const name of ['inside', 'closed'])
          assert.equal(await refused(`${name}.yml`), missing.replaceAll('nowhere', name));
        assert.match(
          await refused('component-closed.yml'),
          /project "acme\/closed" not found, or not public/,
        );
        assert.match(
          await refused('local.yml'),
          /include:local "ci\/shared\.yml" is not allowed in a file included with include:remote/,
        );
      } finally {
        await c.close();
      }
    });
  });
}
