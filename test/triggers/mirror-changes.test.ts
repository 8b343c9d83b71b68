import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mirrorChanges, ZERO_SHA } from '../../src/triggers/mirror-changes.js';
import { verifyWebhookSignature } from '../../src/triggers/webhook-signature.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

describe('mirror changes', () => {
  it('new and moved (also force-pushed) refs, branches first; deleted and unchanged ones start nothing', () => {
    const before = { 'refs/heads/main': A, 'refs/heads/gone': A, 'refs/heads/same': B, 'refs/tags/v1': A };
    const after = new Map([
      ['refs/tags/v2', C],
      ['refs/heads/main', C],
      ['refs/heads/same', B],
      ['refs/heads/new', B],
      ['refs/tags/v1', A],
      ['refs/notes/commits', C],
    ]);
    assert.deepEqual(
      mirrorChanges(before, after).map((change) => [change.type, change.name, change.before, change.after]),
      [
        ['branch', 'main', A, C],
        ['branch', 'new', ZERO_SHA, B],
        ['tag', 'v2', ZERO_SHA, C],
      ],
    );
  });
});

describe('webhook signatures', () => {
  const body = Buffer.from('{"ref":"refs/heads/main"}');
  it('accept the right HMAC or token and refuse everything else', async () => {
    const { createHmac } = await import('node:crypto');
    const hex = createHmac('sha256', 'k').update(body).digest('hex');
    assert.equal(verifyWebhookSignature({ 'x-hub-signature-256': `sha256=${hex}` }, body, 'k'), true);
    assert.equal(
      verifyWebhookSignature({ 'x-hub-signature-256': `sha256=${hex.toUpperCase()}` }, body, 'k'),
      true,
    );
    assert.equal(verifyWebhookSignature({ 'x-gitea-signature': hex }, body, 'k'), true);
    assert.equal(verifyWebhookSignature({ 'x-forgejo-signature': hex }, body, 'k'), true);
    assert.equal(verifyWebhookSignature({ 'x-gitlab-token': 'k' }, body, 'k'), true);
    assert.equal(verifyWebhookSignature({ 'x-hub-signature-256': hex }, body, 'k'), false, 'prefix required');
    assert.equal(verifyWebhookSignature({ 'x-hub-signature-256': `sha256=${hex}` }, body, 'other'), false);
    assert.equal(verifyWebhookSignature({ 'x-gitlab-token': 'kk' }, body, 'k'), false);
    assert.equal(verifyWebhookSignature({ 'x-gitlab-token': ['k', 'k'] }, body, 'k'), false);
    assert.equal(verifyWebhookSignature({}, body, 'k'), false);
    // The first header present decides: a right token cannot rescue a wrong HMAC.
    assert.equal(
      verifyWebhookSignature(
        { 'x-hub-signature-256': `sha256=${'0'.repeat(64)}`, 'x-gitlab-token': 'k' },
        body,
        'k',
      ),
      false,
    );
  });
});
