import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** The headers a git host signs a webhook with, in the order they are looked at. */
export const WEBHOOK_SIGNATURE_HEADERS = [
  'x-hub-signature-256',
  'x-gitea-signature',
  'x-forgejo-signature',
  'x-gitlab-token',
] as const;

function equalBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Whether a webhook request is signed with `secret`. The first signature header present decides:
 * `X-Hub-Signature-256: sha256=<hex>` (GitHub, Gitea, Forgejo) and `X-Gitea-Signature` /
 * `X-Forgejo-Signature: <hex>` are the HMAC-SHA256 of the raw body; `X-Gitlab-Token` is the secret
 * itself (GitLab's shared token). Every comparison takes constant time; the shared token is
 * compared through its SHA-256 so that its length does not show either.
 */
export function verifyWebhookSignature(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  rawBody: Buffer,
  secret: string,
): boolean {
  for (const name of WEBHOOK_SIGNATURE_HEADERS) {
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value !== 'string') return false;
    if (name === 'x-gitlab-token') {
      const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
      return equalBytes(digest(value), digest(secret));
    }
    const hex =
      name === 'x-hub-signature-256'
        ? /^sha256=([0-9a-fA-F]{64})$/.exec(value)?.[1]
        : /^([0-9a-fA-F]{64})$/.exec(value)?.[1];
    if (hex === undefined) return false;
    const expected = createHmac('sha256', secret).update(rawBody).digest();
    return equalBytes(Buffer.from(hex.toLowerCase(), 'hex'), expected);
  }
  return false;
}

/** Whether the request carries any of the {@link WEBHOOK_SIGNATURE_HEADERS}. */
export function hasWebhookSignature(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): boolean {
  return WEBHOOK_SIGNATURE_HEADERS.some((name) => headers[name] !== undefined);
}
