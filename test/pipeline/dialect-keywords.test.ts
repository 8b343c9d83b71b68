// Job keywords of the GitLab dialect whose effect is a field of the loaded spec.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadPipeline } from '../../src/pipeline/load.js';

async function job(content: string, name: string) {
  const { spec } = await loadPipeline({ content });
  const found = spec.jobs.find((candidate) => candidate.name === name);
  assert.ok(found, `job ${name}`);
  return found;
}

describe('dialect job keywords', () => {
  it('inherit:default takes only the listed default keywords; inherit:variables is kept for the runner', async () => {
    const content = `
default:
  before_script: [echo setup]
  tags: [linux]
  retry: 2
variables:
  GLOBAL: one
partial:
  inherit:
    default: [tags]
    variables: [GLOBAL]
  script: [echo]
none:
  inherit: { default: false, variables: false }
  script: [echo]
all:
  script: [echo]
`;
    const partial = await job(content, 'partial');
    assert.deepEqual([partial.beforeScript, partial.tags, partial.retry.max], [[], ['linux'], 0]);
    assert.deepEqual(partial.inheritVariables, ['GLOBAL']);
    const none = await job(content, 'none');
    assert.deepEqual([none.beforeScript, none.tags, none.inheritVariables], [[], [], false]);
    const all = await job(content, 'all');
    assert.deepEqual(
      [all.beforeScript, all.tags, all.retry.max, all.inheritVariables],
      [['echo setup'], ['linux'], 2, true],
    );
  });

  it('retry:exit_codes and the newer retry:when reasons', async () => {
    const retried = await job(
      'j:\n  retry: { max: 2, when: [no_updates_running, script_failure], exit_codes: [137, 255] }\n  script: [x]\n',
      'j',
    );
    assert.deepEqual(retried.retry, {
      max: 2,
      when: ['no_updates_running', 'script_failure'],
      exitCodes: [137, 255],
    });
    await assert.rejects(
      loadPipeline({ content: 'j:\n  retry: { max: 1, exit_codes: 300 }\n  script: [x]\n' }),
      /exit_codes/,
    );
  });

  it('keeps a coverage pattern as written', async () => {
    assert.equal((await job("j:\n  coverage: '/(\\d+)%/'\n  script: [x]\n", 'j')).coverage, '/(\\d+)%/');
  });

  it('refuses includes nested more than 100 levels deep, as GitLab', async () => {
    const chain = (depth: number) => (path: string) => {
      const level = Number(/^level-(\d+)\.yml$/.exec(path)?.[1] ?? -1);
      if (level < 0 || level > depth) return Promise.resolve(undefined);
      const next = level < depth ? `include: level-${level + 1}.yml\n` : '';
      return Promise.resolve(`${next}job-${level}:\n  script: [echo]\n`);
    };
    const { spec } = await loadPipeline({ content: 'include: level-1.yml\n', readLocalFile: chain(100) });
    assert.equal(spec.jobs.length, 100);
    await assert.rejects(
      loadPipeline({ content: 'include: level-1.yml\n', readLocalFile: chain(101) }),
      /includes nest more than 100 levels/,
    );
  });
});
