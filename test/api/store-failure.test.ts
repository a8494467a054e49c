// The whole server when its store fails while it runs (here: the data dir deleted under it): decisions
// deny state_unavailable, writes are refused with 503, /health/ready answers 503 and says why.
import fs from 'node:fs';
import { serveTemp } from '../helpers/serve-temp';

jest.setTimeout(120_000);

test('data dir removed under a running server: deny state_unavailable, writes 503, not ready', async () => {
  const t = await serveTemp({ prefix: 'tether-gone-' });
  try {
    const call = (method: string, p: string, body?: unknown) =>
      fetch(t.url + p, { method, headers: { authorization: `Bearer ${t.apiToken}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const hour = new Date(Date.now() - 3600_000).toISOString();
    expect((await call('PUT', '/v1/identities/alice', { status: 'active', activated_at: hour })).status).toBe(201);
    expect((await call('PUT', '/v1/devices/mac-1', { owner: 'alice', ownership: 'corporate', enrolled: true, compliant: true, encrypted: true, observed_at: hour })).status).toBe(201);
    const ask = { action: 'access', subject: 'alice', device: 'mac-1', resource: { app: 'email' } };
    expect(await (await call('POST', '/v1/decide', ask)).json()).toMatchObject({ allow: true });

    fs.rmSync(t.dataDir, { recursive: true, force: true });
    const put = await call('PUT', '/v1/identities/gone1', { status: 'active' });
    expect(put.status).toBe(503);
    expect(await put.json()).toMatchObject({ code: 'state_unavailable' });
    expect(await (await call('POST', '/v1/decide', ask)).json()).toMatchObject({ allow: false, reasons: ['state_unavailable'] });
    const ready = await call('GET', '/health/ready');
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: unknown }).checks).toMatchObject({ store: 'ERROR', store_error: expect.stringContaining('was removed while open') });
  } finally {
    await t.stop();
  }
});
