import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTesseraError } from '../../../src/errors.js';
import { loadPipeline } from '../../../src/pipeline/load.js';
import { planPipeline } from '../../../src/pipeline/plan.js';
import { buildRuleVariables } from '../../../src/pipeline/rule-variables.js';

async function plannedJobs(content: string) {
  const { spec } = await loadPipeline({ content });
  return planPipeline(spec, buildRuleVariables({ ref: 'main', tag: false, source: 'push' })).jobs;
}

async function errorsOf(content: string): Promise<string[]> {
  try {
    await loadPipeline({ content });
  } catch (error) {
    if (isTesseraError(error)) return [error.message, JSON.stringify(error.details ?? {})];
    throw error;
  }
  return [];
}

describe('image and services', () => {
  it('reads the short and the long forms, and default:image for jobs without their own', async () => {
    const jobs = await plannedJobs(`
default:
  image: alpine:3.20
own:
  image:
    name: node:20
    entrypoint: [""]
    pull_policy: [if-not-present, always]
    docker: {user: "1000"}
  services:
    - postgres:16
    - name: redis:7
      alias: cache
      command: [redis-server, --save, ""]
      entrypoint: [/usr/local/bin/docker-entrypoint.sh]
      variables: {REDIS_ARGS: --maxmemory 10mb}
  script: x
inherits:
  script: x
`);
    const own = jobs.find((job) => job.name === 'own');
    assert.deepEqual(own?.image, {
      name: 'node:20',
      entrypoint: [''],
      pullPolicy: ['if-not-present', 'always'],
      dockerUser: '1000',
    });
    assert.deepEqual(own?.services, [
      { name: 'postgres:16' },
      {
        name: 'redis:7',
        alias: 'cache',
        command: ['redis-server', '--save', ''],
        entrypoint: ['/usr/local/bin/docker-entrypoint.sh'],
        variables: { REDIS_ARGS: '--maxmemory 10mb' },
      },
    ]);
    assert.deepEqual(jobs.find((job) => job.name === 'inherits')?.image, { name: 'alpine:3.20' });
  });

  it('refuses an image without a name, an unknown pull policy and services that are not a list', async () => {
    const errors = (
      await errorsOf(`
a:
  image: {entrypoint: [sh]}
  script: x
b:
  image: {name: alpine, pull_policy: sometimes}
  script: x
c:
  services: postgres
  script: x
`)
    ).join('\n');
    assert.match(errors, /jobs\.a\.image\.name.*is required: name the image/);
    assert.match(errors, /jobs\.b\.image\.pull_policy.*must be always, if-not-present or never/);
    assert.match(errors, /jobs\.c\.services.*must be a list of services/);
  });
});
