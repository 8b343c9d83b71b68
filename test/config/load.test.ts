import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressAllowed, parseAddressList } from '../../src/config/address-list.js';
import { includeRemoteHosts, loadConfig } from '../../src/config/load.js';
import { TesseraError } from '../../src/errors.js';

describe('loadConfig', () => {
  it('applies defaults, then environment, then overrides, and freezes', () => {
    const config = loadConfig({ port: 9000 }, { TESSERA_PORT: '7000', TESSERA_LOG_LEVEL: 'warn' });
    assert.equal(config.port, 9000);
    assert.equal(config.logLevel, 'warn');
    assert.equal(config.issuer, 'http://localhost:9000');
    assert.ok(Object.isFrozen(config));
  });

  it('keeps an issuer with a path byte for byte', () => {
    const config = loadConfig({ issuer: 'https://ci.example.com/tessera' }, {});
    assert.equal(config.issuer, 'https://ci.example.com/tessera');
  });

  it('reports every bad setting with its variable name', () => {
    assert.throws(
      () => loadConfig({ port: 'eighty', issuer: 'https://ci.example.com/', logLevel: 'loud' }, {}),
      (error: unknown) => {
        assert.ok(error instanceof TesseraError);
        assert.equal(error.code, 'ERR_CONFIG_INVALID');
        assert.match(error.message, /port \(TESSERA_PORT\) must be a whole number/);
        assert.match(error.message, /issuer \(TESSERA_ISSUER\) must not end with a slash/);
        assert.match(error.message, /logLevel/);
        return true;
      },
    );
  });

  it('reads the remote include settings: no host, https only, 10 s by default; refuses hosts that are URLs', () => {
    const defaults = loadConfig({}, {});
    assert.deepEqual(
      [defaults.includeRemoteHosts, defaults.includeRemoteAllowHttp, defaults.includeRemoteTimeout],
      ['', false, 10],
    );
    assert.deepEqual(
      includeRemoteHosts(
        loadConfig({}, { TESSERA_INCLUDE_REMOTE_HOSTS: ' GitLab.Example.com, 10.0.0.5,[::1] ' }),
      ),
      ['gitlab.example.com', '10.0.0.5', '::1'],
    );
    for (const bad of [
      'https://gitlab.example.com',
      'gitlab.example.com:443',
      'host/path',
      '*.example.com',
    ]) {
      assert.throws(
        () => loadConfig({ includeRemoteHosts: bad }, {}),
        /includeRemoteHosts \(TESSERA_INCLUDE_REMOTE_HOSTS\) must list host names or IP addresses/,
        bad,
      );
    }
    assert.throws(() => loadConfig({ includeRemoteTimeout: 61 }, {}), /TESSERA_INCLUDE_REMOTE_TIMEOUT/);
    assert.throws(() => loadConfig({ includeRemoteCaFile: 'ca.pem' }, {}), /must be an absolute path/);
  });

  it('refuses a database URL that is not PostgreSQL', () => {
    assert.throws(() => loadConfig({ database: 'mysql://x' }, {}), /must be a postgres:\/\/ URL/);
  });

  it('takes a metrics allow-list of addresses and CIDR blocks, loopback by default, and refuses others', () => {
    assert.equal(loadConfig({}, {}).metricsAllow, '127.0.0.0/8,::1/128');
    const list = parseAddressList(
      loadConfig({}, { TESSERA_METRICS_ALLOW: '10.1.0.0/16, 2001:db8::/32,192.0.2.7' }).metricsAllow,
    );
    assert.ok(addressAllowed(list, '10.1.2.3'));
    assert.ok(addressAllowed(list, '::ffff:10.1.2.3'), 'an IPv4-mapped address matches its IPv4 block');
    assert.ok(addressAllowed(list, '2001:db8::1'));
    assert.ok(addressAllowed(list, '192.0.2.7'));
    assert.ok(!addressAllowed(list, '192.0.2.8'));
    assert.ok(!addressAllowed(list, '127.0.0.1'));
    assert.ok(!addressAllowed(parseAddressList(''), '127.0.0.1'), 'empty: nobody by address');
    for (const bad of ['localhost', '10.0.0.0/33', '10.0.0.0/8/1', '::1/129', '10.0.0.0/x']) {
      assert.throws(
        () => loadConfig({ metricsAllow: bad }, {}),
        /metricsAllow \(TESSERA_METRICS_ALLOW\): .* is not an IP address or a CIDR block/,
        bad,
      );
    }
  });

  it('reads boolean settings from true/false words and keeps the safe defaults', () => {
    const defaults = loadConfig({}, {});
    assert.equal(defaults.allowLocalNetwork, false);
    assert.equal(defaults.repositoryAllowLocal, '');
    assert.equal(defaults.usersCanCreateGroup, true);
    const config = loadConfig(
      {},
      {
        TESSERA_ALLOW_LOCAL_NETWORK: 'true',
        TESSERA_USERS_CAN_CREATE_GROUP: '0',
        TESSERA_REPOSITORY_ALLOW_LOCAL: '/srv/git/, /home/ci/repos',
      },
    );
    assert.equal(config.allowLocalNetwork, true);
    assert.equal(config.usersCanCreateGroup, false);
    assert.equal(config.repositoryAllowLocal, '/srv/git/, /home/ci/repos');
    assert.throws(
      () => loadConfig({}, { TESSERA_ALLOW_LOCAL_NETWORK: 'maybe', TESSERA_REPOSITORY_ALLOW_LOCAL: 'repos' }),
      (error: unknown) => {
        assert.ok(error instanceof TesseraError);
        assert.match(
          error.message,
          /allowLocalNetwork \(TESSERA_ALLOW_LOCAL_NETWORK\) must be true or false/,
        );
        assert.match(error.message, /must list absolute directories, not "repos"/);
        return true;
      },
    );
  });
});
