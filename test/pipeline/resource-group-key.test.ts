// resource_group keys: expanded with the variables GitLab uses when it creates the pipeline, and
// checked with GitLab's rule for a resource group's key.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadPipeline } from '../../src/pipeline/load.js';
import { planPipeline } from '../../src/pipeline/plan.js';
import {
  expandResourceGroupKey,
  isResourceGroupKey,
  type ResourceGroupKeyScope,
} from '../../src/pipeline/resource-group-key.js';
import { buildRuleVariables } from '../../src/pipeline/rule-variables.js';

const predefined = buildRuleVariables({
  ref: 'Feature/Login',
  tag: false,
  source: 'push',
  projectPath: 'acme/app',
  userLogin: 'alice',
});

/** The planned jobs of `content` on branch `Feature/Login`, by name. */
async function jobsOf(content: string) {
  const { spec } = await loadPipeline({ content });
  const plan = planPipeline(spec, predefined);
  return { plan, job: (name: string) => plan.jobs.find((job) => job.name === name)! };
}

function scopeFor(plan: { variables: Record<string, string> }, extra: Partial<ResourceGroupKeyScope> = {}) {
  return {
    predefined,
    pipeline: plan.variables,
    project: {},
    user: { id: 7, username: 'alice', email: 'alice@example.com', name: 'Alice' },
    ...extra,
  };
}

describe('expandResourceGroupKey', () => {
  it('expands predefined pipeline and job variables, YAML variables and CI/CD variables', async () => {
    const { plan, job } = await jobsOf(`
variables:
  TARGET: eu-$REGION
  REGION: west
deploy:
  stage: deploy
  resource_group: deploy-$CI_COMMIT_REF_SLUG
  script: [x]
per-job:
  resource_group: \${CI_JOB_NAME_SLUG}/\${CI_JOB_STAGE}/%GITLAB_USER_LOGIN%-$GITLAB_USER_ID
  script: [x]
yaml:
  variables:
    CLUSTER: blue
  resource_group: $TARGET-$CLUSTER-$FROM_PROJECT-$FROM_API
  script: [x]
fixed:
  resource_group: production
  script: [x]
none:
  script: [x]
`);
    const scope = scopeFor(plan, { project: { FROM_PROJECT: 'p', FROM_API: 'a' } });
    assert.equal(expandResourceGroupKey(job('deploy'), scope), 'deploy-feature-login');
    assert.equal(expandResourceGroupKey(job('per-job'), scope), 'per-job/test/alice-7');
    // A YAML variable that refers to another is expanded first, as GitLab's sort_and_expand_all.
    assert.equal(expandResourceGroupKey(job('yaml'), scope), 'eu-west-blue-p-a');
    assert.equal(expandResourceGroupKey(job('fixed'), scope), 'production');
    assert.equal(expandResourceGroupKey(job('none'), scope), null);
  });

  it("adds the environment's name, slug and tier on top, but nothing that exists only once the job runs", async () => {
    const { plan, job } = await jobsOf(`
deploy:
  environment: {name: Review/Feature, deployment_tier: staging}
  resource_group: $CI_ENVIRONMENT_NAME.$CI_ENVIRONMENT_SLUG.$CI_ENVIRONMENT_TIER
  script: [x]
guessed:
  environment: production
  variables:
    CI_ENVIRONMENT_NAME: overridden
  resource_group: $CI_ENVIRONMENT_NAME-$CI_ENVIRONMENT_TIER
  script: [x]
runtime:
  environment: {name: prod, url: https://example.com}
  resource_group: x$CI_JOB_ID$CI_PIPELINE_ID$CI_ENVIRONMENT_URL$CI_ENVIRONMENT_ACTION$UNKNOWN
  script: [x]
no-environment:
  resource_group: x$CI_ENVIRONMENT_NAME
  script: [x]
`);
    assert.equal(
      expandResourceGroupKey(job('deploy'), scopeFor(plan)),
      'Review/Feature.review-feature.staging',
    );
    assert.equal(
      expandResourceGroupKey(job('guessed'), scopeFor(plan, { environmentTier: 'production' })),
      'production-production',
    );
    assert.equal(expandResourceGroupKey(job('runtime'), scopeFor(plan)), 'x');
    assert.equal(expandResourceGroupKey(job('no-environment'), scopeFor(plan)), 'x');
  });

  it('keeps the global variables a job does not inherit out of its key', async () => {
    const { plan, job } = await jobsOf(`
variables:
  A: one
  B: two
none:
  inherit: {variables: false}
  resource_group: g-$A-$B
  script: [x]
some:
  inherit: {variables: [B]}
  resource_group: g-$A-$B
  script: [x]
`);
    assert.equal(expandResourceGroupKey(job('none'), scopeFor(plan)), 'g--');
    assert.equal(expandResourceGroupKey(job('some'), scopeFor(plan)), 'g--two');
  });
});

describe('isResourceGroupKey', () => {
  it("accepts what GitLab's environment-name rule accepts, and at most 255 characters", () => {
    for (const key of ['production', 'deploy-main', 'a/b c.d_e', '{literal}$', '$', 'x'.repeat(255)])
      assert.equal(isResourceGroupKey(key), true, key);
    for (const key of ['', '/leading', 'trailing/', 'a:b', 'ünï', 'x'.repeat(256), 'a\nb'])
      assert.equal(isResourceGroupKey(key), false, key);
  });
});
