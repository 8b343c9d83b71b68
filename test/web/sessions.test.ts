import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTestCoordinator, type TestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';

/** The sign-in form's CSRF cookie and field value, as a browser gets them. */
async function signInForm(c: TestCoordinator): Promise<string> {
  const page = await fetch(`${c.url}/users/sign_in`);
  const cookie = /_tessera_sign_in_csrf=([^;]+)/.exec(page.headers.get('set-cookie') ?? '')?.[1];
  assert.ok(cookie);
  assert.match(await page.text(), new RegExp(`name="authenticity_token" value="${cookie}"`));
  return cookie;
}

function postSignIn(c: TestCoordinator, csrf: string | null, fields: Record<string, string>) {
  return fetch(`${c.url}/users/sign_in`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(csrf === null ? {} : { cookie: `_tessera_sign_in_csrf=${csrf}` }),
    },
    body: new URLSearchParams({ ...(csrf === null ? {} : { authenticity_token: csrf }), ...fields }),
  });
}

for (const dialect of testDialects()) {
  describe(`web sign-in and sessions [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('sets passwords through the API as GitLab, and never shows them', async () => {
      const c = await startTestCoordinator(dialect);
      const short = await c.api('POST', '/api/v4/users', {
        body: { username: 'ann', email: 'ann@example.com', name: 'Ann', password: 'short' },
      });
      assert.equal(short.status, 400);
      assert.equal(short.body.error, 'ERR_VALIDATION');
      assert.match(short.body.message, /body\.password is too short \(minimum is 8 characters\)/);
      assert.equal((await c.api('GET', '/api/v4/users')).body.length, 1, 'nobody was created');
      const ann = await c.api('POST', '/api/v4/users', {
        body: { username: 'ann', email: 'ann@example.com', name: 'Ann', password: 'long enough' },
      });
      assert.equal(ann.status, 201);
      assert.doesNotMatch(ann.text, /password|scrypt/);
      const set = await c.api('PUT', `/api/v4/users/${ann.body.id}`, { body: { password: 'another one' } });
      assert.equal(set.status, 200);
      assert.equal(set.body.username, 'ann');
      // The password goes with GitLab's other user fields.
      const other = await c.api('PUT', `/api/v4/users/${ann.body.id}`, {
        body: { password: 'another one', name: 'B' },
      });
      // GitLab's PUT /users/:id takes the password beside other fields.
      assert.equal(other.status, 200);
      assert.equal(other.body.name, 'B');
      const missing = await c.api('PUT', '/api/v4/users/999', { body: { password: 'x'.repeat(9) } });
      assert.equal(missing.status, 404);
      const token = await c.api('POST', `/api/v4/users/${ann.body.id}/personal_access_tokens`, {
        body: { name: 't', scopes: ['api'] },
      });
      const notAdmin = await c.api('PUT', '/api/v4/users/1', {
        token: token.body.token,
        body: { password: 'take over root' },
      });
      assert.equal(notAdmin.status, 403);
      assert.doesNotMatch((await c.api('GET', '/api/v4/users')).text, /scrypt|password/);

      // The old password no longer signs in, the new one does (by email too, any case).
      const csrf = await signInForm(c);
      assert.equal(
        (await postSignIn(c, csrf, { 'user[login]': 'ann', 'user[password]': 'long enough' })).status,
        401,
      );
      const signedIn = await postSignIn(c, csrf, {
        'user[login]': 'ANN@example.com',
        'user[password]': 'another one',
      });
      assert.equal(signedIn.status, 303);
    });

    it('issues HttpOnly SameSite=Lax cookies, refuses forms without CSRF, rate-limits failures, signs out', async () => {
      const c = await startTestCoordinator(dialect, { authRateLimit: 3 });
      const root = await c.api('PUT', '/api/v4/users/1', { body: { password: 'root password' } });
      assert.equal(root.status, 200, root.text);
      const csrf = await signInForm(c);
      assert.equal(
        (await postSignIn(c, null, { 'user[login]': 'root', 'user[password]': 'root password' })).status,
        403,
      );
      const mismatched = await fetch(`${c.url}/users/sign_in`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          cookie: `_tessera_sign_in_csrf=${csrf}`,
        },
        body: new URLSearchParams({
          authenticity_token: 'forged',
          'user[login]': 'root',
          'user[password]': 'root password',
        }),
      });
      assert.equal(mismatched.status, 403, 'the field must match the cookie');
      const good = await postSignIn(c, csrf, {
        'user[login]': 'root',
        'user[password]': 'root password',
        redirect_to: '//evil.example/steal',
      });
      assert.equal(good.status, 303, await good.text());
      assert.equal(good.headers.get('location'), '/', 'no redirect off the site');
      const setCookie = good.headers.getSetCookie().find((value) => value.startsWith('_tessera_session='));
      assert.ok(setCookie);
      assert.match(setCookie, /; HttpOnly/);
      assert.match(setCookie, /; SameSite=Lax/);
      assert.doesNotMatch(setCookie, /Secure/, 'plain http on loopback');
      const session = /_tessera_session=([^;]+)/.exec(setCookie)![1]!;
      const home = await fetch(`${c.url}/`, { headers: { cookie: `_tessera_session=${session}` } });
      assert.equal(home.status, 200);
      assert.match(
        home.headers.get('content-security-policy') ?? '',
        /default-src 'none'; script-src 'self'/,
      );
      const html = await home.text();
      assert.doesNotMatch(html, /<script>|<style>|style="/, 'nothing inline');
      const pageCsrf = /name="authenticity_token" value="([^"]+)"/.exec(html)![1]!;

      // Failed sign-ins: 401 until the limit, then 429 (even for the right password) until the minute ends.
      for (let i = 0; i < 3; i++) {
        assert.equal(
          (await postSignIn(c, csrf, { 'user[login]': 'root', 'user[password]': 'wrong' })).status,
          401,
        );
      }
      const limited = await postSignIn(c, csrf, { 'user[login]': 'root', 'user[password]': 'root password' });
      assert.equal(limited.status, 429);
      assert.ok(Number(limited.headers.get('retry-after')) >= 1);

      // Sign out needs the session's CSRF token; afterwards the cookie is worthless.
      const forged = await fetch(`${c.url}/users/sign_out`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          cookie: `_tessera_session=${session}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'authenticity_token=nope',
      });
      assert.equal(forged.status, 403);
      assert.equal(
        (await fetch(`${c.url}/`, { headers: { cookie: `_tessera_session=${session}` } })).status,
        200,
      );
      const out = await fetch(`${c.url}/users/sign_out`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          cookie: `_tessera_session=${session}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ authenticity_token: pageCsrf }),
      });
      assert.equal(out.status, 303);
      const after = await fetch(`${c.url}/`, {
        headers: { cookie: `_tessera_session=${session}` },
        redirect: 'manual',
      });
      // Signed out, `/` is a visitor's: the public projects and a sign-in link, no session's form.
      assert.equal(after.status, 200);
      const visitor = await after.text();
      assert.match(visitor, /<a class="sign-in-link" href="\/users\/sign_in">Sign in<\/a>/);
      assert.doesNotMatch(visitor, /sign_out|authenticity_token/);
      const admin = await fetch(`${c.url}/admin/users`, {
        headers: { cookie: `_tessera_session=${session}` },
        redirect: 'manual',
      });
      assert.equal(admin.status, 302);
      assert.equal(admin.headers.get('location'), '/users/sign_in?redirect_to=%2Fadmin%2Fusers');
    });
  });
}
