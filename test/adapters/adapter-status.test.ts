// Adapter status: a stalled source (no successful sync within its interval) shows WARN, then ERROR;
// the registry lists every adapter and a failing one never hides the others.
import { AdapterRegistry, FreshnessTracker, type Adapter } from '../../src/adapters/adapter';

test('a poller is NOT_READY until its first sync, OK after, WARN past its interval, ERROR past 3×', () => {
  let now = 0;
  const t = new FreshnessTracker('intune', { intervalMs: 60_000, now: () => now, poller: true });
  expect(t.status().state).toBe('NOT_READY');
  t.markStarted();
  expect(t.status().state).toBe('NOT_READY');
  now = 1_000;
  t.success();
  expect(t.status()).toEqual({ state: 'OK', message: 'intune running', last_success: new Date(1_000).toISOString() });
  now = 1_000 + 61_000;
  expect(t.status().state).toBe('WARN');
  expect(t.status().message).toContain('no successful sync for 61s');
  now = 1_000 + 181_000;
  expect(t.status().state).toBe('ERROR');
  now += 1;
  t.success();
  expect(t.status().state).toBe('OK');
});

test('a poller that never syncs goes WARN/ERROR from its start time; failures say why', () => {
  let now = 0;
  const t = new FreshnessTracker('jamf', { intervalMs: 10_000, now: () => now, poller: true });
  t.markStarted();
  t.failure('HTTP 401');
  now = 11_000;
  expect(t.status()).toMatchObject({ state: 'WARN', last_success: null });
  expect(t.status().message).toContain('HTTP 401');
  now = 31_000;
  expect(t.status().state).toBe('ERROR');
});

test('push sources are OK once started; repeated failures turn WARN then ERROR', () => {
  const t = new FreshnessTracker('webhook');
  t.markStarted();
  expect(t.status().state).toBe('OK');
  t.failure('HTTP 503');
  expect(t.status().state).toBe('WARN');
  t.failure('HTTP 503');
  t.failure('HTTP 503');
  expect(t.status().state).toBe('ERROR');
  t.markStopped();
  expect(t.status().state).toBe('NOT_READY');
});

test('the registry lists adapters by name, reports readiness, survives a throwing status', async () => {
  const r = new AdapterRegistry();
  const ok: Adapter = { name: 'b', start: async () => undefined, stop: async () => undefined, status: () => ({ state: 'OK', message: 'fine', last_success: null }) };
  const broken: Adapter = { name: 'a', start: async () => { throw new Error('no'); }, stop: async () => undefined, status: () => { throw new Error('boom'); } };
  r.register(ok);
  r.register(broken);
  expect(() => r.register(ok)).toThrow('adapter_duplicate');
  await r.startAll();
  expect(r.list().map((a) => [a.name, a.state])).toEqual([['a', 'ERROR'], ['b', 'OK']]);
  expect(r.ready()).toBe(false);
});

test('the registry reports each change of state or message once (a failing sync reaches the log), not a steady state', () => {
  jest.useFakeTimers();
  try {
    const r = new AdapterRegistry();
    const tracker = new FreshnessTracker('intune', { intervalMs: 60_000, poller: true });
    const intune: Adapter = { name: 'intune', start: async () => undefined, stop: async () => undefined, status: () => tracker.status() };
    r.register(intune);
    tracker.markStarted();
    const seen: Array<[string, string, string | undefined]> = [];
    const stop = r.watch((name, now, before) => seen.push([name, now.state, before?.state]), 1000);
    expect(seen).toEqual([]); // NOT_READY at the start is not news
    tracker.success();
    jest.advanceTimersByTime(1000);
    jest.advanceTimersByTime(5000);
    expect(seen).toEqual([['intune', 'OK', 'NOT_READY']]);
    tracker.failure('Graph answered 401 to the token request');
    tracker.failure('Graph answered 401 to the token request');
    tracker.failure('Graph answered 401 to the token request');
    jest.advanceTimersByTime(1000);
    const failing = r.list()[0];
    expect(failing.state).not.toBe('OK');
    expect(seen).toEqual([['intune', 'OK', 'NOT_READY'], ['intune', failing.state, 'OK']]);
    jest.advanceTimersByTime(10_000);
    expect(seen).toHaveLength(2);
    stop();
    tracker.success();
    jest.advanceTimersByTime(10_000);
    expect(seen).toHaveLength(2);
  } finally {
    jest.useRealTimers();
  }
});
