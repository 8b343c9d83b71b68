import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { createRemoteIncludeFetcher } from '../../src/coordinator/fetch-remote-include.js';
import { isTesseraError } from '../../src/errors.js';
import { PIPELINE_LIMITS } from '../../src/pipeline/limits.js';
import { type LoadPipelineInput, loadPipeline } from '../../src/pipeline/load.js';
import { type IncludeServers, startIncludeServers } from './remote-include-server.js';

const SHARED = 'shared:\n  script: [echo shared]\n';

const files: Parameters<typeof startIncludeServers>[0] = {
  '/ci.yml': SHARED,
  '/other.yml': 'other:\n  script: [echo other]\n',
  '/slow.yml': { hang: true },
  '/big.yml': { bytes: PIPELINE_LIMITS.maxFileBytes + 10 },
  '/gone.yml': { status: 404 },
  '/nested-local.yml': 'include: ci/local.yml\nremote-job:\n  script: [echo r]\n',
  '/nested-remote.yml': '', // set once the port is known
  '/with-inputs.yml':
    'spec:\n  inputs:\n    stage: { default: test }\n---\nfrom-input:\n  stage: $[[ inputs.stage ]]\n  script: [echo i]\n',
};

const servers: IncludeServers = await startIncludeServers(files);
files['/nested-remote.yml'] =
  `include:\n  - remote: ${servers.https}/other.yml\nouter:\n  script: [echo o]\n`;
files['/redirect-in.yml'] = { redirect: `${servers.https}/ci.yml` };
files['/redirect-out.yml'] = { redirect: `${servers.httpsByName}/ci.yml` };
files['/redirect-loop.yml'] = { redirect: '/redirect-loop.yml' };

/** Loads `content` with the coordinator's fetcher under the given settings. */
async function load(
  content: string,
  settings: Parameters<typeof loadConfig>[0],
  extra: Partial<LoadPipelineInput> = {},
) {
  const config = loadConfig({ dataDir: '/tmp/unused', includeRemoteCaFile: servers.caFile, ...settings }, {});
  return loadPipeline({ content, fetchRemoteFile: createRemoteIncludeFetcher(config), ...extra });
}

/** The first error message of a load that must fail. */
async function failure(
  content: string,
  settings: Parameters<typeof loadConfig>[0],
  extra: Partial<LoadPipelineInput> = {},
): Promise<{ path: string; message: string; line: number | null }> {
  try {
    await load(content, settings, extra);
  } catch (error) {
    assert.ok(isTesseraError(error) && error.code === 'ERR_PIPELINE_INVALID', String(error));
    const errors = error.details?.errors as { path: string; message: string; line: number | null }[];
    return errors[0]!;
  }
  assert.fail('the load succeeded');
}

const LOCAL = { includeRemoteHosts: '127.0.0.1' };

describe('include:remote through the coordinator fetcher', () => {
  it('merges a file from an allowed HTTPS host, as a string entry and as { remote }', async () => {
    const loaded = await load(
      `include:\n  - ${servers.https}/ci.yml\n  - remote: ${servers.https}/other.yml\nown:\n  script: [echo own]\n`,
      LOCAL,
    );
    assert.deepEqual(
      loaded.spec.jobs.map((job) => job.name),
      ['shared', 'other', 'own'],
    );
    assert.deepEqual(
      loaded.includes.map((file) => [file.type, file.location]),
      [
        ['remote', `${servers.https}/ci.yml`],
        ['remote', `${servers.https}/other.yml`],
      ],
    );
  });

  it('refuses every host while the list is empty, naming the host and the setting', async () => {
    const problem = await failure(`include:\n  - remote: ${servers.https}/ci.yml\n`, {});
    assert.equal(problem.path, 'include[0]');
    assert.equal(problem.line, 2);
    assert.match(problem.message, /host 127\.0\.0\.1 is not allowed.*TESSERA_INCLUDE_REMOTE_HOSTS/);
  });

  it('refuses a host that is not on the list', async () => {
    const problem = await failure(`include: ${servers.httpsByName}/ci.yml\n`, LOCAL);
    assert.match(
      problem.message,
      /host localhost is not on this instance's list.*TESSERA_INCLUDE_REMOTE_HOSTS/,
    );
  });

  it('fetches a host listed by name (resolved, the connection pinned to its addresses)', async () => {
    const loaded = await load(`include: ${servers.httpsByName}/ci.yml\n`, {
      includeRemoteHosts: 'LOCALHOST',
    });
    assert.deepEqual(
      loaded.spec.jobs.map((job) => job.name),
      ['shared'],
    );
  });

  it('never reaches link-local, unspecified or multicast addresses, even for a listed host', async () => {
    for (const host of ['169.254.169.254', '0.0.0.0', '[::]', '224.0.0.1']) {
      const problem = await failure(`include: https://${host}/ci.yml\n`, {
        includeRemoteHosts: host,
      });
      assert.match(
        problem.message,
        /a link-local, unspecified or multicast address that remote includes never reach/,
        host,
      );
    }
  });

  it('refuses plain http unless the instance allows it', async () => {
    const problem = await failure(`include: ${servers.http}/ci.yml\n`, LOCAL);
    assert.match(problem.message, /plain http:\/\/ is turned off.*TESSERA_INCLUDE_REMOTE_ALLOW_HTTP/);
    const loaded = await load(`include: ${servers.http}/ci.yml\n`, {
      ...LOCAL,
      includeRemoteAllowHttp: true,
    });
    assert.deepEqual(
      loaded.spec.jobs.map((job) => job.name),
      ['shared'],
    );
  });

  it('refuses a certificate the coordinator does not trust', async () => {
    const problem = await failure(`include: ${servers.https}/ci.yml\n`, {
      ...LOCAL,
      includeRemoteCaFile: '',
    });
    assert.match(problem.message, /the request failed: .*certificate/i);
  });

  it('stops a slow server at the time limit', async () => {
    const problem = await failure(`include: ${servers.https}/slow.yml\n`, {
      ...LOCAL,
      includeRemoteTimeout: 1,
    });
    assert.match(problem.message, /no answer in time.*1 s together.*TESSERA_INCLUDE_REMOTE_TIMEOUT/);
  });

  it('refuses a file larger than the limit while it streams', async () => {
    const problem = await failure(`include: ${servers.https}/big.yml\n`, LOCAL);
    assert.match(problem.message, /larger than the limit of 1048576 bytes/);
  });

  it('reports an HTTP error with the URL, without its query string', async () => {
    const problem = await failure(
      `include:\n  remote: ${servers.https}/gone.yml?private_token=s3cr3t\n`,
      LOCAL,
    );
    assert.equal(problem.message, `remote file ${servers.https}/gone.yml?…: answered HTTP 404 (not found)`);
    assert.doesNotMatch(JSON.stringify(problem), /s3cr3t/);
  });

  it('checks integrity: as GitLab (sha256, base64)', async () => {
    const digest = createHash('sha256').update(SHARED).digest('base64');
    const ok = await load(
      `include:\n  remote: ${servers.https}/ci.yml\n  integrity: sha256-${digest}\n`,
      LOCAL,
    );
    assert.equal(ok.spec.jobs[0]?.name, 'shared');
    const wrong = createHash('sha256').update('something else').digest('base64');
    const problem = await failure(
      `include:\n  remote: ${servers.https}/ci.yml\n  integrity: sha256-${wrong}\n`,
      LOCAL,
    );
    assert.equal(problem.path, 'include.integrity');
    assert.match(
      problem.message,
      new RegExp(`integrity check failed: the file has SHA-256 sha256-${digest.replace(/[+/]/g, '\\$&')}`),
    );
    const malformed = await failure(
      `include:\n  remote: ${servers.https}/ci.yml\n  integrity: md5-abc\n`,
      LOCAL,
    );
    assert.equal(malformed.path, 'include.integrity');
    assert.match(malformed.message, /must be sha256-/);
  });

  it('follows a redirect to a listed host, refuses one to a host off the list and too many', async () => {
    const loaded = await load(`include: ${servers.https}/redirect-in.yml\n`, LOCAL);
    assert.equal(loaded.spec.jobs[0]?.name, 'shared');
    const out = await failure(`include: ${servers.https}/redirect-out.yml\n`, LOCAL);
    assert.match(out.message, /redirected to https:\/\/localhost:\d+\/ci\.yml: host localhost is not on/);
    const loop = await failure(`include: ${servers.https}/redirect-loop.yml\n`, LOCAL);
    assert.match(loop.message, /more than 3 redirects/);
  });

  it('refuses a URL with credentials without showing them', async () => {
    const before = servers.requests.length;
    const problem = await failure(`include:\n  - remote: https://robot:hunter2@127.0.0.1:1/ci.yml\n`, LOCAL);
    assert.equal(problem.path, 'include[0].remote');
    assert.match(problem.message, /carries credentials/);
    assert.doesNotMatch(problem.message, /hunter2|robot/);
    assert.equal(servers.requests.length, before, 'nothing was fetched');
  });

  it('refuses include:local inside a remote file and follows its remote includes', async () => {
    const problem = await failure(`include: ${servers.https}/nested-local.yml\n`, LOCAL, {
      readLocalFile: async () => 'local-job:\n  script: [echo l]\n',
    });
    assert.match(
      problem.message,
      /include:local "ci\/local\.yml" is not allowed in a file included with include:remote/,
    );
    const loaded = await load(`include: ${servers.https}/nested-remote.yml\n`, LOCAL);
    assert.deepEqual(
      loaded.spec.jobs.map((job) => job.name),
      ['other', 'outer'],
    );
  });

  it('passes inputs to a remote file with a spec:inputs header', async () => {
    const loaded = await load(
      `stages: [build, test]\ninclude:\n  - remote: ${servers.https}/with-inputs.yml\n    inputs: { stage: build }\n`,
      LOCAL,
    );
    assert.equal(loaded.spec.jobs[0]?.stage, 'build');
  });

  it('expands variables in the URL and applies include:rules, as for local files', async () => {
    const content = `include:\n  - remote: ${servers.https}/$FILE.yml\n    rules:\n      - if: $WANT == "yes"\nown:\n  script: [echo own]\n`;
    const wanted = await load(content, LOCAL, { variables: { FILE: 'other', WANT: 'yes' } });
    assert.deepEqual(
      wanted.spec.jobs.map((job) => job.name),
      ['other', 'own'],
    );
    const before = servers.requests.length;
    const skipped = await load(content, LOCAL, { variables: { FILE: 'other', WANT: 'no' } });
    assert.deepEqual(
      skipped.spec.jobs.map((job) => job.name),
      ['own'],
    );
    assert.equal(servers.requests.length, before, 'a file the rules leave out is not fetched');
  });

  it('accepts include:cache with a warning and fetches anyway', async () => {
    const loaded = await load(`include:\n  - remote: ${servers.https}/ci.yml\n    cache: 1 day\n`, LOCAL);
    assert.equal(loaded.spec.jobs[0]?.name, 'shared');
    assert.deepEqual(
      loaded.warnings.map((warning) => warning.path),
      ['include[0].cache'],
    );
    const problem = await failure(`include:\n  - remote: ${servers.https}/ci.yml\n    cache: often\n`, LOCAL);
    assert.equal(problem.path, 'include[0].cache');
  });

  it('refuses URLs GitLab refuses before fetching anything', async () => {
    const before = servers.requests.length;
    for (const [url, message] of [
      ['ftp://127.0.0.1/ci.yml', /ftp:\/\/ is not supported by include:remote/],
      [`${servers.https}/ci.json`, /must be a \.yml or \.yaml file/],
      ['https://[broken/ci.yml?token=s3cr3t', /is not a URL/],
    ] as const) {
      const problem = await failure(`include:\n  - remote: "${url}"\n`, LOCAL);
      assert.match(problem.message, message, url);
      assert.doesNotMatch(problem.message, /s3cr3t/);
    }
    assert.equal(servers.requests.length, before);
  });

  it('counts a remote file included again toward the limit of 150', async () => {
    const entries = Array.from({ length: 151 }, () => `  - ${servers.https}/ci.yml\n`).join('');
    const problem = await failure(`include:\n${entries}`, LOCAL);
    assert.match(problem.message, /more than 150 includes/);
  });

  it('says a remote include cannot be fetched when the reader was given no fetcher', async () => {
    await assert.rejects(
      loadPipeline({ content: `include: ${servers.https}/ci.yml\n` }),
      (error: unknown) => isTesseraError(error) && /fetches no remote files/.test(error.message),
    );
  });
});
