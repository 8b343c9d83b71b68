import type { ComponentChildren } from 'preact';
import type { UserRecord } from '../../store/repositories/users.js';
import { ASSET_PATHS } from '../assets.js';

/** What every page's frame needs: the title, the signed-in user (if any) and their CSRF token. */
export interface PageFrame {
  title: string;
  user?: UserRecord;
  csrfToken?: string;
  /** A visitor who is not signed in: the bar offers "Sign in". */
  offerSignIn?: boolean;
}

/** The hidden CSRF field every state-changing form carries (GitLab's field name). */
export function CsrfField({ token }: { token: string }) {
  return <input type="hidden" name="authenticity_token" value={token} />;
}

/**
 * The frame of every page: a skip link, the navigation, the content. The stylesheet and the one
 * script are same-origin files (the CSP allows nothing inline).
 */
export function Layout({ frame, children }: { frame: PageFrame; children: ComponentChildren }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <title>{`${frame.title} · Tessera`}</title>
        <link rel="stylesheet" href={ASSET_PATHS.css} />
        <script src={ASSET_PATHS.js} defer />
      </head>
      <body>
        <a class="skip-link" href="#content">
          Skip to content
        </a>
        <header class="top-bar">
          <nav aria-label="Main">
            <a class="brand" href="/">
              Tessera
            </a>
            {frame.user && <a href="/">Projects</a>}
            {frame.user?.isAdmin && <a href="/admin/runners">Runners</a>}
            {frame.user?.isAdmin && <a href="/admin/users">Users</a>}
            {frame.user?.isAdmin && <a href="/admin/keys">Keys</a>}
          </nav>
          {frame.offerSignIn && (
            <a class="sign-in-link" href="/users/sign_in">
              Sign in
            </a>
          )}
          {frame.user && frame.csrfToken && (
            <form method="post" action="/users/sign_out" class="sign-out">
              <CsrfField token={frame.csrfToken} />
              <span class="who">{frame.user.username}</span>
              <button type="submit">Sign out</button>
            </form>
          )}
        </header>
        <main id="content" tabindex={-1}>
          {children}
        </main>
      </body>
    </html>
  );
}

/** A page that says what went wrong (404 for anything the user may not see). */
export function ErrorPage({ frame, status, message }: { frame: PageFrame; status: number; message: string }) {
  return (
    <Layout frame={frame}>
      <h1>{status === 404 ? 'Page not found' : `Error ${status}`}</h1>
      <p class="error-message">{message}</p>
      <p>
        <a href="/">Back to your projects</a>
      </p>
    </Layout>
  );
}
