// The README's error-code tables must list every stable code the code base can answer with.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODE_LIST } from '../src/api/errors';
import { DIAGNOSTIC_CODES } from '../src/compiler/diagnostics';

const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');

describe('README', () => {
  it.each(ERROR_CODE_LIST)('documents the HTTP error code %s', (code) => {
    expect(readme).toContain('`' + code + '`');
  });

  it.each(DIAGNOSTIC_CODES)('documents the compiler diagnostic code %s', (code) => {
    expect(readme).toContain('`' + code + '`');
  });

  it('shows the install, start and test commands', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm test');
  });
});
