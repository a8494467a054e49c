// The cache's admission filter: second misses are admitted, first misses remembered for a window.
import { Doorkeeper } from '../../src/state/doorkeeper';

test('a key is refused on its first miss and admitted on its second', () => {
  const d = new Doorkeeper(1000);
  expect(d.admit('i:user-1')).toBe(false);
  expect(d.admit('i:user-1')).toBe(true);
  expect(d.admit('i:user-2')).toBe(false);
});

test('a first miss is forgotten after two windows of other first misses', () => {
  const d = new Doorkeeper(100);
  expect(d.admit('old')).toBe(false);
  for (let i = 0; i < 99; i++) d.admit(`a${i}`); // rotation: 'old' is in the previous generation
  expect(d.admit('old')).toBe(true);
  const e = new Doorkeeper(100);
  e.admit('old');
  for (let i = 0; i < 250; i++) e.admit(`b${i}`); // two rotations later
  expect(e.admit('old')).toBe(false);
});

test('keys never seen are rarely admitted (false positives under 5% with the window nearly full)', () => {
  const d = new Doorkeeper(10_000);
  for (let i = 0; i < 9_000; i++) d.admit(`seen-${i}`);
  let early = 0;
  for (let i = 0; i < 900; i++) if (d.admit(`never-${i}`)) early++; // stays within one window
  expect(early / 900).toBeLessThan(0.05);
});
