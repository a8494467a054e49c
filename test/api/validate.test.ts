// Field errors are JSON pointers naming every bad field, including missing and unknown ones.
import { bodyValidator } from '../../src/api/validate';
import { ApiError } from '../../src/api/errors';

const v = bodyValidator<unknown>({
  type: 'object',
  additionalProperties: false,
  required: ['subject', 'devices'],
  properties: {
    subject: { type: 'string' },
    devices: { type: 'array', items: { type: 'object', required: ['compliant'], properties: { compliant: { type: 'boolean' } } } },
    'a/b': { type: 'integer' },
  },
});

test('every bad field is named by its JSON pointer', () => {
  try {
    v({ devices: [{ compliant: true }, { compliant: 'no' }, {}], extra: 1, 'a/b': 'x' }, '/input');
    throw new Error('expected ApiError');
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    const e = err as ApiError;
    expect(e.status).toBe(400);
    expect(e.code).toBe('invalid_input');
    expect(e.errors!.map((x) => x.path).sort()).toEqual(['/input/a~1b', '/input/devices/1/compliant', '/input/devices/2/compliant', '/input/extra', '/input/subject']);
    expect(e.errors!.find((x) => x.path === '/input/subject')!.message).toBe('is required');
  }
});

test('a valid value passes through unchanged', () => {
  const value = { subject: 'alice', devices: [] };
  expect(v(value)).toBe(value);
});

test('a conditional requirement names the missing field, not the if/then schema around it', () => {
  const cond = bodyValidator<unknown>({
    type: 'object',
    properties: { action: { type: 'string' }, resource: { type: 'object', properties: { app: { type: 'string' } } } },
    if: { properties: { action: { const: 'access' } } },
    then: { required: ['resource'], properties: { resource: { required: ['app'] } } },
  });
  const errorsOf = (body: unknown) => {
    try {
      cond(body);
    } catch (err) {
      return (err as ApiError).errors;
    }
    throw new Error('expected ApiError');
  };
  expect(errorsOf({ action: 'access' })).toEqual([{ path: '/resource', message: 'is required' }]);
  expect(errorsOf({ action: 'access', resource: {} })).toEqual([{ path: '/resource/app', message: 'is required' }]);
  expect(cond({ action: 'activate' })).toEqual({ action: 'activate' });
});
