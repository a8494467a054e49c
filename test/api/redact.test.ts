import { fetchErrorCode, withoutCredentials } from '../../src/api/redact';

describe('withoutCredentials', () => {
  it('masks the user:password@ of every URL in a text, leaving the rest', () => {
    expect(withoutCredentials('GET https://bob:s3cret@hooks.example.com/x failed; retry http://a@b.example/y'))
      .toBe('GET https://***@hooks.example.com/x failed; retry http://***@b.example/y');
    expect(withoutCredentials('no URL here: user@example.com')).toBe('no URL here: user@example.com');
  });
});

describe('fetchErrorCode: why a fetch failed, as a code safe to log', () => {
  it("is the error's own code first (jose's)", () => {
    expect(fetchErrorCode(Object.assign(new Error('timed out'), { code: 'ERR_JWKS_TIMEOUT' }))).toBe('ERR_JWKS_TIMEOUT');
  });

  it("is the cause's code for fetch's bare TypeError (the network failure it wraps)", () => {
    const err = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }) });
    expect(fetchErrorCode(err)).toBe('ECONNREFUSED');
  });

  it('is the error name when no code is known, and fetch_failed for anything else', () => {
    expect(fetchErrorCode(new TypeError('Request cannot be constructed from a URL that includes credentials: https://u:pw@x/'))).toBe('TypeError');
    expect(fetchErrorCode(undefined)).toBe('fetch_failed');
    expect(fetchErrorCode({ code: 42 })).toBe('fetch_failed');
  });

  it('never returns the message, which may quote a URL with its password', () => {
    const err = new TypeError('Request cannot be constructed from a URL that includes credentials: https://u:hunter2@idp.example/jwks');
    expect(fetchErrorCode(err)).not.toContain('hunter2');
  });
});
