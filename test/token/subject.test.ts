import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildSubject, validateSubClaimComponents } from '../../src/token/subject.js';
import { jobContext } from './fixtures/job-context.js';

describe('buildSubject', () => {
  it('defaults to project_path:<path>:ref_type:<type>:ref:<ref>', () => {
    assert.equal(buildSubject(jobContext()), 'project_path:acme/platform/api:ref_type:branch:ref:main');
  });

  it('follows the project components, in order, with every allowed component', () => {
    const context = jobContext({
      project: {
        ...jobContext().project,
        subClaimComponents: [
          'project_id',
          'ref',
          'ref_protected',
          'environment',
          'environment_protected',
          'deployment_tier',
          'pipeline_source',
          'ref_type',
        ],
      },
      environment: { name: 'production', protected: true, tier: 'production', action: 'start' },
    });
    assert.equal(
      buildSubject(context),
      'project_id:22:ref:main:ref_protected:true:environment:production:environment_protected:true:deployment_tier:production:pipeline_source:push:ref_type:branch',
    );
  });

  it('drops environment components when the job has no environment', () => {
    const context = jobContext({
      project: { ...jobContext().project, subClaimComponents: ['project_path', 'environment', 'ref'] },
    });
    assert.equal(buildSubject(context), 'project_path:acme/platform/api:ref:main');
  });

  it('writes a colon inside a value as %3A', () => {
    const context = jobContext({
      environment: { name: 'review:feature', protected: false, tier: 'development', action: 'start' },
      project: { ...jobContext().project, subClaimComponents: ['project_path', 'environment'] },
    });
    assert.equal(buildSubject(context), 'project_path:acme/platform/api:environment:review%3Afeature');
  });

  it('refuses project_path on a burned path, and allows project_id there', () => {
    const burned = jobContext({ project: { ...jobContext().project, pathReused: true } });
    assert.throws(() => buildSubject(burned), { code: 'ERR_TOKEN_SUB_PATH_BURNED' });
    const byId = jobContext({
      project: {
        ...jobContext().project,
        pathReused: true,
        subClaimComponents: ['project_id', 'ref_type', 'ref'],
      },
    });
    assert.equal(buildSubject(byId), 'project_id:22:ref_type:branch:ref:main');
  });
});

describe('validateSubClaimComponents', () => {
  it('accepts valid lists', () => {
    assert.deepEqual(validateSubClaimComponents(['project_id']), ['project_id']);
    assert.deepEqual(validateSubClaimComponents(['project_path', 'ref']), ['project_path', 'ref']);
  });

  const bad: unknown[] = [
    [],
    'project_path',
    null,
    ['ref', 'project_path'],
    ['project_path', 'project_id'],
    ['project_path', 'ref', 'ref'],
    ['project_path', 'user_login'],
    ['project_path', 7],
  ];
  for (const list of bad) {
    it(`refuses ${JSON.stringify(list)}`, () => {
      assert.throws(() => validateSubClaimComponents(list), { code: 'ERR_TOKEN_SUB_COMPONENTS_INVALID' });
    });
  }
});
