/** GitLab's guess of a deployment tier from an environment name. */
export function guessTier(name: string): string {
  const lower = name.toLowerCase();
  if (/^(prod|production|live)/.test(lower)) return 'production';
  if (/^(stag|staging|model|pre)/.test(lower)) return 'staging';
  if (/^(test|qa|uat)/.test(lower)) return 'testing';
  if (/^(dev|review|trunk)/.test(lower)) return 'development';
  return 'other';
}
