import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ACCESS_LEVELS } from '../../src/coordinator/access-level.js';
import { ciReadAccess, requireCiRead } from '../../src/coordinator/permissions.js';

/** "P" pipelines only, "PJ" pipelines and jobs, "-" neither: GitLab's table for one caller. */
function cell(visibility: string, publicJobs: boolean, level: number, signedIn: boolean): string {
  const access = ciReadAccess({ visibility, publicJobs }, level, signedIn);
  assert.ok(access.pipelines || !access.jobs, 'whoever reads the jobs reads the pipelines');
  return access.jobs ? 'PJ' : access.pipelines ? 'P' : '-';
}

describe('ciReadAccess (GitLab ProjectPolicy with public_jobs)', () => {
  it('answers GitLab’s table: visitors, non-members, Guests and Reporters on each visibility', () => {
    const { guest, reporter } = ACCESS_LEVELS;
    // [visibility, public_jobs] → [visitor, signed-in non-member, Guest, Reporter]
    const table: Array<[string, boolean, string[]]> = [
      ['public', true, ['PJ', 'PJ', 'PJ', 'PJ']],
      ['public', false, ['P', 'P', 'P', 'PJ']],
      ['internal', true, ['-', 'PJ', 'PJ', 'PJ']],
      ['internal', false, ['-', 'P', 'P', 'PJ']],
      // A non-member never sees a private project at all (requireProject answers 404 first).
      ['private', true, ['-', '-', 'PJ', 'PJ']],
      ['private', false, ['-', '-', '-', 'PJ']],
    ];
    for (const [visibility, publicJobs, expected] of table) {
      assert.deepEqual(
        [
          cell(visibility, publicJobs, 0, false),
          cell(visibility, publicJobs, 0, true),
          cell(visibility, publicJobs, guest, true),
          cell(visibility, publicJobs, reporter, true),
        ],
        expected,
        `${visibility}, public_jobs ${publicJobs}`,
      );
    }
  });

  it('refuses with ERR_FORBIDDEN naming the setting', () => {
    assert.throws(
      () => requireCiRead({ visibility: 'public', publicJobs: false }, 0, true, 'jobs'),
      (error: Error & { code?: string }) =>
        error.code === 'ERR_FORBIDDEN' && /Reporter role.*public_jobs/.test(error.message),
    );
    assert.doesNotThrow(() =>
      requireCiRead({ visibility: 'public', publicJobs: false }, 0, true, 'pipelines'),
    );
  });
});
