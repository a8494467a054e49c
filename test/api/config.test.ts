// Configuration: defaults, validation naming the variable, and the API token bootstrap.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, apiTokenPath, defaultResidentBytes, loadConfig, parseBytes, parseConfigJson, resolveApiToken } from '../../src/config';
import { ssfReceiverConfigFromEnv } from '../../src/adapters/ssf/receiver';
import { ssfTransmitterConfigFromEnv } from '../../src/adapters/ssf/transmitter';
import { withConfigFile } from '../../src/adapters';
import { tempDir } from './helpers';

test('defaults match api.md: port 8181, ./data, ./policies, decision routes open', () => {
  const c = loadConfig({});
  expect(c.port).toBe(8181);
  expect(c.dataDir).toBe(path.resolve('./data'));
  expect(c.policyDir).toBe(path.resolve('./policies'));
  expect(c.apiToken).toBeUndefined();
  expect(c.decisionToken).toBeUndefined();
  expect(c.sqliteSync).toBe('full');
  expect(c.maxExceptionHours).toBe(72);
  expect(c.bodyLimitBytes).toBe(1024 * 1024);
  expect(c.importBatchSize).toBe(1000);
});

test('resident memory: 2 GB by default, at most half a smaller memory limit, 0 turns it off', () => {
  const GB = 1024 ** 3;
  expect(defaultResidentBytes(24 * GB)).toBe(2 * GB);
  expect(defaultResidentBytes(1 * GB)).toBe(GB / 2); // a 1 GB container
  expect(loadConfig({}).residentBytes).toBe(defaultResidentBytes());
  expect(loadConfig({ TETHER_RESIDENT_MEMORY: '0' }).residentBytes).toBe(0);
  expect(loadConfig({ TETHER_RESIDENT_MEMORY: '3gb' }).residentBytes).toBe(3 * GB);
  expect(() => loadConfig({ TETHER_RESIDENT_MEMORY: 'all' })).toThrow(/TETHER_RESIDENT_MEMORY/);
});

test('bad values name the variable', () => {
  expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
  expect(() => loadConfig({ TETHER_SQLITE_SYNC: 'off' })).toThrow(ConfigError);
  expect(() => loadConfig({ TETHER_BODY_LIMIT: 'lots' })).toThrow(/TETHER_BODY_LIMIT/);
  expect(parseBytes('512kb')).toBe(512 * 1024);
  expect(parseBytes('2gb')).toBe(2 * 1024 ** 3);
});

test('an unset API token is generated once, stored 0600 under the data dir, and reused', () => {
  const dir = tempDir();
  const c1 = loadConfig({ TETHER_DATA_DIR: dir });
  const first = resolveApiToken(c1);
  expect(first.generated).toBe(true);
  expect(first.token.length).toBeGreaterThan(32);
  expect(c1.apiToken).toBe(first.token);
  expect(fs.statSync(apiTokenPath(c1)).mode & 0o777).toBe(0o600);
  const second = resolveApiToken(loadConfig({ TETHER_DATA_DIR: dir }));
  expect(second).toEqual({ token: first.token, generated: false });
  expect(resolveApiToken(loadConfig({ TETHER_DATA_DIR: dir, TETHER_API_TOKEN: 'from-env' }))).toEqual({ token: 'from-env', generated: false });
});

test('the lifecycle catch-up share is a percentage of one core, 10 by default', () => {
  expect(loadConfig({}).lifecycleCatchupPercent).toBe(10);
  expect(loadConfig({ TETHER_LIFECYCLE_CATCHUP_PERCENT: '100' }).lifecycleCatchupPercent).toBe(100);
  for (const bad of ['0', '101', '12.5', 'fast']) {
    expect(() => loadConfig({ TETHER_LIFECYCLE_CATCHUP_PERCENT: bad })).toThrow(/TETHER_LIFECYCLE_CATCHUP_PERCENT/);
  }
});

test('SQLite mmap is off unless sized', () => {
  expect(loadConfig({}).sqliteMmapBytes).toBe(0);
  expect(loadConfig({ TETHER_SQLITE_MMAP: '256mb' }).sqliteMmapBytes).toBe(256 * 1024 ** 2);
  expect(() => loadConfig({ TETHER_SQLITE_MMAP: 'all' })).toThrow(/TETHER_SQLITE_MMAP/);
});

test('an SSF transmitter with an empty token is refused at start, not left matching nothing (or everything)', () => {
  const keys = '{"keys": []}';
  expect(() => ssfReceiverConfigFromEnv({ TETHER_SSF_TRANSMITTERS: `[{"issuer": "https://tx.example", "audience": "tether", "jwks": ${keys}, "token": ""}]` }))
    .toThrow('ssf_config_invalid: transmitter https://tx.example needs a non-empty string as its token (leave "token" out for none)');
  expect(() => ssfReceiverConfigFromEnv({ TETHER_SSF_TRANSMITTERS: `[{"issuer": "https://tx.example", "audience": "tether", "jwks": ${keys}, "token": 5}]` }))
    .toThrow(/needs a non-empty string as its token/);
  // Left out: no token is asked for. The single-transmitter variables treat an empty token as unset.
  expect(ssfReceiverConfigFromEnv({ TETHER_SSF_TRANSMITTERS: `[{"issuer": "https://tx.example", "audience": "tether", "jwks": ${keys}}]` })!.transmitters[0].token).toBeUndefined();
  expect(ssfReceiverConfigFromEnv({ TETHER_SSF_RECEIVER_ISSUER: 'https://tx.example', TETHER_SSF_RECEIVER_AUDIENCE: 'tether', TETHER_SSF_RECEIVER_JWKS: keys, TETHER_SSF_RECEIVER_TOKEN: '' })!.transmitters[0].token).toBeUndefined();
});

// V8's JSON.parse message quotes the text around the error: in a configuration, that text may be a secret.
test('malformed configuration JSON is reported by position, never quoting the text (it may hold secrets)', () => {
  const secret = 'hunter2-very-secret-value';
  const say = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error('did not throw');
  };
  expect(say(() => parseConfigJson(`{"token": ${secret}}`, 'X'))).toBe('X is not valid JSON (an unexpected character or the end of the text)');
  expect(say(() => parseConfigJson(`{"token": "${secret}",\n ,}`, 'X'))).toBe('X is not valid JSON (Expected double-quoted property name at line 2, column 2)');
  const dir = tempDir();
  const file = path.join(dir, 'adapters.json');
  fs.writeFileSync(file, `{"TETHER_SCIM_TOKEN": '${secret}'}`);
  const messages = [
    say(() => withConfigFile({ TETHER_ADAPTERS_CONFIG: file })),
    say(() => ssfReceiverConfigFromEnv({ TETHER_SSF_TRANSMITTERS: `[{"issuer": "x", "token": '${secret}'}]` })),
    say(() => ssfReceiverConfigFromEnv({ TETHER_SSF_RECEIVER_ISSUER: 'x', TETHER_SSF_RECEIVER_JWKS: `{"keys": [${secret}]}` })),
    say(() => ssfTransmitterConfigFromEnv({ TETHER_SSF_RECEIVERS: `[{"authorization_header": Bearer ${secret}}]` }, dir, 8181)),
  ];
  for (const m of messages) {
    expect(m).toMatch(/is not valid JSON/);
    expect(m).not.toContain(secret.slice(0, 4));
  }
  expect(messages[0]).toContain(file);
  expect(messages[1]).toContain('TETHER_SSF_TRANSMITTERS');
});
