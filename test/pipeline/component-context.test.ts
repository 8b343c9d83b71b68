// $[[ component.* ]] in a component's file (GitLab's component context): the fields its
// spec:component declares, with the name, the commit, the version as written and the semantic
// version it names; using an undeclared field, or one outside a component, is an error.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTesseraError } from '../../src/errors.js';
import { IncludeSourceError, type IncludeSources } from '../../src/pipeline/include-sources.js';
import { loadPipeline } from '../../src/pipeline/load.js';
import type { PipelineSpec } from '../../src/pipeline/spec.js';

const TEMPLATE = `spec:
  component: [name, sha, version, reference]
---
"build-$[[ component.reference | truncate(0,5) ]]":
  variables:
    VERSION: $[[ component.version ]]
  script:
    - echo "$[[ component.name ]] $[[ component.sha ]] [$[[ component.version ]]] $[[ component.reference ]]"
`;

/** A component project at some refs: each ref's commit is its name repeated to 40 characters. */
const sources: IncludeSources = {
  serverHosts: ['ci.example.com'],
  async openProject(project, ref) {
    if (project !== 'acme/components' || ref === null) throw new IncludeSourceError(`no ${project}`);
    const files: Record<string, string> = {
      'templates/build.yml': TEMPLATE,
      'templates/undeclared.yml':
        'spec:\n  component: [name]\n---\nx:\n  script:\n    - echo $[[ component.sha ]]\n',
      'templates/bad-field.yml': 'spec:\n  component: [name, path]\n---\nx:\n  script: [echo]\n',
    };
    return {
      project,
      ref,
      sha: ref.replace(/[^0-9a-z]/g, '').padEnd(40, 'f'),
      readLocalFile: async (path) => files[path],
      listLocalFiles: async () => Object.keys(files),
    };
  },
  async listTags() {
    return ['1.0.0', '1.2.0', 'v2.0.0-rc1'];
  },
};

async function load(content: string): Promise<PipelineSpec> {
  return (await loadPipeline({ content, includeSources: sources, readLocalFile: async () => undefined }))
    .spec;
}

async function errorsOf(content: string): Promise<string[]> {
  try {
    await load(content);
  } catch (error) {
    if (!isTesseraError(error)) throw error;
    return ((error.details?.errors ?? []) as Array<{ path: string; message: string }>).map(
      (problem) => `${problem.path}: ${problem.message}`,
    );
  }
  return [];
}

describe('component context interpolation ($[[ component.* ]])', () => {
  it('gives the name, the commit, the resolved semantic version and the reference as written', async () => {
    const spec = await load(`include:
  - component: ci.example.com/acme/components/build@~latest
  - component: ci.example.com/acme/components/build@1
  - component: ci.example.com/acme/components/build@1.0.0
  - component: ci.example.com/acme/components/build@main
`);
    const jobs = Object.fromEntries(spec.jobs.map((job) => [job.name, job]));
    const sha = (ref: string) => ref.replace(/[^0-9a-z]/g, '').padEnd(40, 'f');
    assert.deepEqual(jobs['build-~late']?.script, [`echo "build ${sha('1.2.0')} [1.2.0] ~latest"`]);
    assert.deepEqual(jobs['build-1']?.script, [`echo "build ${sha('1.2.0')} [1.2.0] 1"`]);
    assert.deepEqual(jobs['build-1.0.0']?.script, [`echo "build ${sha('1.0.0')} [1.0.0] 1.0.0"`]);
    // A branch names no version: empty in text, null (no value) as a whole value.
    assert.deepEqual(jobs['build-main']?.script, [`echo "build ${sha('main')} [] main"`]);
    assert.equal(jobs['build-1.0.0']?.variables.VERSION, '1.0.0');
    assert.equal(jobs['build-main']?.variables.VERSION, '');
  });

  it('refuses a field the header does not declare and an unknown field', async () => {
    const errors = await errorsOf(`include:
  - component: ci.example.com/acme/components/undeclared@1.0.0
  - component: ci.example.com/acme/components/bad-field@1.0.0
job:
  script: [echo]
`);
    assert.ok(
      errors.some((error) =>
        /^spec\.component: "echo \$\[\[ component\.sha \]\]" uses component\.sha, which the header does not declare; add it to spec: \{ component: \[sha\] \}/.test(
          error,
        ),
      ),
      errors.join('\n'),
    );
    assert.ok(
      errors.some((error) =>
        /"path" is not a component field; use name, sha, version, reference/.test(error),
      ),
      errors.join('\n'),
    );
  });

  it('refuses $[[ component.* ]] in a file not included as a component', async () => {
    const errors = await errorsOf(
      'spec:\n  component: [name]\n---\njob:\n  script:\n    - echo $[[ component.name ]]\n',
    );
    assert.deepEqual(errors, [
      'spec.component: "echo $[[ component.name ]]" has a value only in a file included with include:component',
    ]);
  });
});
