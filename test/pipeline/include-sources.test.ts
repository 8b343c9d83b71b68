// The include pass on its own: what include:project, include:component and include:artifact say
// without the sources a server gives, the time limit on reading includes, and how a component's
// ~latest and partial versions pick a tag.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTesseraError } from '../../src/errors.js';
import { newestVersion } from '../../src/pipeline/include-component.js';
import { PIPELINE_LIMITS } from '../../src/pipeline/limits.js';
import { loadPipeline } from '../../src/pipeline/load.js';

async function errorsOf(input: Parameters<typeof loadPipeline>[0]): Promise<string[]> {
  try {
    await loadPipeline(input);
  } catch (error) {
    if (!isTesseraError(error)) throw error;
    return ((error.details?.errors ?? []) as Array<{ path: string; message: string }>).map(
      (problem) => `${problem.path}: ${problem.message}`,
    );
  }
  return [];
}

describe('include:project, include:component and include:artifact without a server', () => {
  it('says where each one is read, instead of calling it unsupported', async () => {
    const errors = await errorsOf({
      content: `include:
  - { project: acme/templates, file: ci/build.yml }
  - component: example.com/acme/templates/greet@1.0.0
  - { artifact: generated.yml, job: generate }
  - { project: acme/templates, local: ci/build.yml }
job:
  script: [echo]
`,
      readLocalFile: async () => undefined,
    });
    assert.deepEqual(errors, [
      'include[0]: cannot read "ci/build.yml" of project "acme/templates": include:project reads projects of a Tessera server (tessera ci lint --server URL --project PATH)',
      'include[1].component: component "example.com/acme/templates/greet@1.0.0": include:component reads projects of a Tessera server (tessera ci lint --server URL --project PATH)',
      'include[2].artifact: a file from artifacts is included only by a child pipeline: write it in trigger: { include: [{ artifact: path, job: name }] }',
      'include[3]: names local and project: an include entry reads one kind of file',
    ]);
  });

  it('stops reading includes after the time limit, saying so once', async () => {
    let now = 0;
    const files: Record<string, string> = {
      'a.yml': 'include: b.yml\na:\n  script: [echo]\n',
      'b.yml': 'include: c.yml\nb:\n  script: [echo]\n',
      'c.yml': 'c:\n  script: [echo]\n',
    };
    const errors = await errorsOf({
      content: 'include: a.yml\nmain:\n  script: [echo]\n',
      // Every read takes half the limit, on a frozen clock that only reads move.
      readLocalFile: async (path) => {
        now += PIPELINE_LIMITS.maxIncludeMilliseconds / 2 + 1;
        return files[path];
      },
      clock: () => now,
    });
    assert.deepEqual(errors, [
      'include: reading the includes took longer than 30 seconds; include fewer files, or files of fewer projects (in b.yml)',
    ]);
  });
});

describe('the include time limit on one slow read', () => {
  // The timeout only ends the test if the limit were not kept (it would wait forever).
  it('gives up on a read that outlasts the time left, instead of waiting for it', {
    timeout: 60_000,
  }, async () => {
    let calls = 0;
    const errors = await errorsOf({
      content: 'include: slow.yml\nmain:\n  script: [echo]\n',
      // A read that never answers, started with 5 ms of the budget left.
      readLocalFile: () => new Promise<string | undefined>(() => {}),
      clock: () => (calls++ === 0 ? 0 : PIPELINE_LIMITS.maxIncludeMilliseconds - 5),
    });
    assert.deepEqual(errors, [
      'include: reading the includes took longer than 30 seconds; include fewer files, or files of fewer projects',
    ]);
  });
});

describe('component versions', () => {
  const tags = ['v1.0.0', 'v1.2.0', '1.10.1', 'v2.0.0-rc.1', 'latest', 'v1.2.3+build', 'release-3'];

  it('~latest is the newest released semantic version, pre-releases left out', () => {
    assert.equal(newestVersion(tags, null), '1.10.1');
    assert.equal(newestVersion(['main', 'v2.0.0-beta'], null), null);
  });

  it('a partial version is the newest with that major (and minor) number', () => {
    assert.equal(newestVersion(tags, '1.2'), 'v1.2.3+build');
    assert.equal(newestVersion(tags, '1'), '1.10.1');
    assert.equal(newestVersion(tags, '2'), null);
  });
});
