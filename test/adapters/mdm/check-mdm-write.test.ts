// checkMdmWrite: the one check the Intune poll, the Jamf pull/re-read and the generic MDM webhook make
// before writing a device: an identical record is 'unchanged', a record not newer than a CAEP verdict
// is 'stale', anything else is a 'write'.
import { checkMdmWrite } from '../../../src/adapters/ssf/apply-event';
import type { Device } from '../../../src/state/types';

const stored = (extra: Partial<Device> = {}): Device =>
  ({
    id: 'd1',
    owner: 'alice',
    owner_ref: 'alice@example.com',
    owner_resolved: true,
    enrolled: true,
    compliant: true,
    encrypted: true,
    ownership: 'corporate',
    source: 'intune',
    observed_at: '2026-01-01T10:00:00.000Z',
    version: 3,
    updated_at: '2026-01-01T10:00:01.000Z',
    ...extra,
  }) as Device;
const record = (extra: Record<string, unknown> = {}) => ({
  owner: 'alice@example.com',
  enrolled: true,
  compliant: true,
  encrypted: true,
  ownership: 'corporate',
  source: 'intune',
  observed_at: '2026-01-01T10:00:00Z',
  ...extra,
});

test('a new device, or a changed record, is a write', () => {
  expect(checkMdmWrite(undefined, record())).toBe('write');
  expect(checkMdmWrite(stored(), record({ compliant: false }))).toBe('write');
});

test('an identical record (observed_at compared as a time) is unchanged', () => {
  expect(checkMdmWrite(stored(), record())).toBe('unchanged');
});

test('under a CAEP verdict, a record observed at the same time, earlier, or undated is stale; a later one is a write', () => {
  const verdict = stored({ source: 'caep', compliant: false });
  expect(checkMdmWrite(verdict, record())).toBe('stale');
  expect(checkMdmWrite(verdict, record({ observed_at: '2026-01-01T09:00:00Z' }))).toBe('stale');
  expect(checkMdmWrite(verdict, record({ observed_at: undefined }))).toBe('stale');
  expect(checkMdmWrite(verdict, record({ observed_at: '2026-01-01T10:00:01Z' }))).toBe('write');
});

test('without a CAEP verdict an equal observed_at is a write (the store accepts it)', () => {
  expect(checkMdmWrite(stored({ compliant: false }), record())).toBe('write');
});
