import { Layout } from './layout.js';

/** `/users/sign_in`: GitLab's labels, so people (and scripts written for GitLab) find their way. */
export function SignInPage({
  csrfToken,
  redirectTo,
  alert,
  login,
}: {
  csrfToken: string;
  redirectTo: string;
  alert?: string;
  login?: string;
}) {
  return (
    <Layout frame={{ title: 'Sign in' }}>
      <h1>Sign in to Tessera</h1>
      {alert && (
        <p class="flash-alert" role="alert">
          {alert}
        </p>
      )}
      <form method="post" action="/users/sign_in" class="form-card">
        <input type="hidden" name="authenticity_token" value={csrfToken} />
        <input type="hidden" name="redirect_to" value={redirectTo} />
        <label for="user_login">Username or email</label>
        <input
          id="user_login"
          name="user[login]"
          autocomplete="username"
          required
          autofocus
          value={login ?? ''}
        />
        <label for="user_password">Password</label>
        <input
          id="user_password"
          name="user[password]"
          type="password"
          autocomplete="current-password"
          required
        />
        <p>
          <button type="submit">Sign in</button>
        </p>
      </form>
    </Layout>
  );
}
