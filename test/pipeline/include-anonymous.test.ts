// The includes of a remote file are read without the pipeline's user, as GitLab reads them: through
// the sources' anonymous view, and so are the includes of the project files read there.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTesseraError } from '../../src/errors.js';
import {
  IncludeSourceError,
  type IncludeSources,
  type ProjectSnapshot,
} from '../../src/pipeline/include-sources.js';
import { loadPipeline } from '../../src/pipeline/load.js';

/** Projects held in memory (path → files); `who` names the reader in its errors. */
function sourcesOver(projects: Record<string, Record<string, string>>, who: string): IncludeSources {
  return {
    serverHosts: ['ci.example.com'],
    async openProject(project, ref): Promise<ProjectSnapshot> {
      const files = projects[project];
      if (files === undefined) throw new IncludeSourceError(`project "${project}" not found for ${who}`);
      return {
        project,
        ref: ref ?? 'main',
        sha: 'a'.repeat(40),
        readLocalFile: async (path) => files[path],
        listLocalFiles: async () => Object.keys(files),
      };
    },
    async listTags() {
      return [];
    },
  };
}

const REMOTE = {
  'https://files.example.com/ci.yml':
    'include:\n  - { project: acme/open, file: ci/a.yml }\nremote:\n  script: [echo r]\n',
};

async function load(sources: IncludeSources) {
  return loadPipeline({
    content: 'include: https://files.example.com/ci.yml\nmain:\n  script: [echo]\n',
    fetchRemoteFile: async (url) => {
      const content = REMOTE[url.href as keyof typeof REMOTE];
      return content === undefined ? { error: 'not found' } : { content };
    },
    includeSources: sources,
    variables: { WHICH: 'user-variable' },
  });
}

describe('the includes of an include:remote file', () => {
  it('reads projects through the anonymous sources, down the includes of the files read there', async () => {
    const open = {
      'ci/a.yml': 'include:\n  - { project: acme/$WHICH, file: ci/b.yml }\n  - local: ci/c.yml\n',
      'ci/c.yml': 'from-c:\n  script: [echo c]\n',
    };
    const user = sourcesOver(
      { 'acme/open': open, 'acme/user-variable': { 'ci/b.yml': 'x: {}' } },
      'the user',
    );
    const anonymous = sourcesOver(
      { 'acme/open': open, 'acme/$WHICH': { 'ci/b.yml': 'from-b:\n  script: [echo b]\n' } },
      'anyone',
    );
    const loaded = await load({ ...user, anonymous });
    // No variables there ($WHICH stays as written), the anonymous view, include:local of that project.
    assert.deepEqual(
      loaded.spec.jobs.map((job) => job.name),
      ['from-b', 'from-c', 'remote', 'main'],
    );
  });

  it('refuses them when the sources have no anonymous view', async () => {
    try {
      await load(sourcesOver({ 'acme/open': { 'ci/a.yml': 'a:\n  script: [echo]\n' } }, 'the user'));
      assert.fail('the load succeeded');
    } catch (error) {
      assert.ok(isTesseraError(error), String(error));
      const errors = (error.details?.errors ?? []) as Array<{ message: string }>;
      assert.match(errors[0]?.message ?? '', /include:project reads projects of a Tessera server/);
    }
  });
});
