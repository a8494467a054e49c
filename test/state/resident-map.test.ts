// The off-heap string map behind resident replicas: exact round trips, agreement with a Map under random
// churn (slabs, growth, backward-shift deletes), memory reuse through free lists, and the shared budget.
import fc from 'fast-check';
import { MemoryBudget } from '../../src/state/memory-budget';
import { MAX_BLOCK_BYTES, MAX_KEY_BYTES, ResidentMap } from '../../src/state/resident-map';

/** A value naming its key and a version (so stale reads are caught), then `count` fillers. */
function valueOf(key: string, version: number, count: number, filler: string): string {
  return `${key}#${version}:${filler.repeat(count)}`;
}

test('round-trips ASCII and non-ASCII keys and values, and the empty value', () => {
  const m = new ResidentMap({ slabBytes: 4096, initialCapacity: 8 });
  const pairs: Array<[string, string]> = [
    ['i:user-123', '{"id":"user-123","active":true}'],
    ['a:alice@example.com', ''],
    ['a:josé@exämple.com', '{"name":"Zoë Ångström","city":"Kraków"}'],
    ['i:😀-emoji', '{"mood":"😀🎉","tail":"ü"}'],
    ['', 'the empty key is a key'],
    ['日本語のキー', '値'.repeat(500)],
  ];
  for (const [k, v] of pairs) expect(m.set(k, v)).toBe(true);
  for (const [k, v] of pairs) {
    expect(m.has(k)).toBe(true);
    expect(m.get(k)).toBe(v);
  }
  expect(m.size).toBe(pairs.length);
  expect(m.get('i:user-12')).toBeUndefined(); // a prefix of a stored key is another key
  expect(m.has('i:😀-emojj')).toBe(false);
});

test('agrees with a Map after every command of random set/delete/get sequences', () => {
  const fillers = ['a', 'é', '😀', 'ab€'];
  const command = fc.oneof(
    // Lengths span classes from 32 bytes to blocks larger than the 4 KiB slab (dedicated slabs).
    fc.record({ op: fc.constant('set' as const), k: fc.nat(15), count: fc.oneof(fc.nat(40), fc.nat(400), fc.nat(3000)), f: fc.nat(3) }),
    fc.record({ op: fc.constant('delete' as const), k: fc.nat(15) }),
    fc.record({ op: fc.constant('get' as const), k: fc.nat(15) }),
  );
  fc.assert(
    fc.property(fc.array(command, { maxLength: 300 }), (commands) => {
      const m = new ResidentMap({ slabBytes: 4096, initialCapacity: 8 });
      const model = new Map<string, string>();
      const keyOf = (k: number) => (k % 3 === 0 ? `k${k}` : k % 3 === 1 ? `ключ-${k}` : `i:user-${k}-😀`);
      commands.forEach((c, version) => {
        const key = keyOf(c.k);
        if (c.op === 'set') {
          const v = valueOf(key, version, c.count, fillers[c.f]);
          expect(m.set(key, v)).toBe(true);
          model.set(key, v);
        } else if (c.op === 'delete') {
          expect(m.delete(key)).toBe(model.delete(key));
        }
        expect(m.get(key)).toBe(model.get(key));
        expect(m.has(key)).toBe(model.has(key));
        expect(m.size).toBe(model.size);
      });
      for (let k = 0; k < 16; k++) expect(m.get(keyOf(k))).toBe(model.get(keyOf(k)));
    }),
    { numRuns: 200 },
  );
});

test('setting and deleting the same entries again reuses their memory', () => {
  const m = new ResidentMap({ slabBytes: 64 * 1024, initialCapacity: 8 });
  const lengths = [0, 20, 100, 333, 700, 5000, 100_000];
  const round = (r: number) => {
    for (let i = 0; i < 1400; i++) {
      const key = `i:user-${i}`;
      expect(m.set(key, valueOf(key, r, lengths[i % lengths.length], 'x'))).toBe(true);
    }
  };
  round(0);
  const bytes = m.bytes;
  for (let r = 1; r <= 5; r++) {
    for (let i = 0; i < 1400; i++) m.delete(`i:user-${i}`);
    expect(m.size).toBe(0);
    round(r);
  }
  expect(m.bytes).toBe(bytes);
  // Overwriting with values of the same size happens in place.
  for (let r = 6; r <= 10; r++) round(r);
  expect(m.bytes).toBe(bytes);
  expect(m.get('i:user-6')).toBe(valueOf('i:user-6', 10, 100_000, 'x'));
});

test('updates that move entries between size classes stop growing memory after the first cycle', () => {
  const m = new ResidentMap({ slabBytes: 64 * 1024, initialCapacity: 8 });
  const cycle = (r: number) => {
    for (let i = 0; i < 1000; i++) m.set(`k${i}`, valueOf(`k${i}`, r, r % 2 === 0 ? 50 : 600, 'y'));
  };
  cycle(0);
  cycle(1);
  const bytes = m.bytes;
  for (let r = 2; r < 12; r++) cycle(r);
  expect(m.bytes).toBe(bytes);
  expect(m.get('k999')).toBe(valueOf('k999', 11, 600, 'y'));
});

describe('a shared memory budget', () => {
  const slabBytes = 4096;
  const index = 8 * 8; // initialCapacity 8 slots × (4-byte hash + 4-byte ref)

  test('set() returns false once the budget is exhausted, and the key is then absent', () => {
    const budget = new MemoryBudget(index + 2 * slabBytes);
    const m = new ResidentMap({ budget, slabBytes, initialCapacity: 8 });
    let stored = 0;
    for (; stored < 100; stored++) if (!m.set(`k${stored}`, 'v'.repeat(1500))) break;
    expect(stored).toBeGreaterThan(0);
    expect(stored).toBeLessThan(100);
    expect(m.has(`k${stored}`)).toBe(false);
    expect(m.size).toBe(stored);
    expect(budget.usedBytes).toBe(m.bytes);
    expect(budget.usedBytes).toBeLessThanOrEqual(budget.maxBytes);
    for (let i = 0; i < stored; i++) expect(m.get(`k${i}`)).toBe('v'.repeat(1500));
  });

  test('a failed update removes the old value instead of leaving it stale', () => {
    const budget = new MemoryBudget(index + slabBytes);
    const m = new ResidentMap({ budget, slabBytes, initialCapacity: 8 });
    expect(m.set('k', 'small')).toBe(true);
    expect(m.set('k', 'x'.repeat(4000))).toBe(false); // needs a second slab
    expect(m.has('k')).toBe(false);
    expect(m.size).toBe(0);
  });

  test('a second map sees what the first left, and clear() gives everything back', () => {
    const budget = new MemoryBudget(2 * (index + slabBytes));
    const a = new ResidentMap({ budget, slabBytes, initialCapacity: 8 });
    const b = new ResidentMap({ budget, slabBytes, initialCapacity: 8 });
    expect(a.bytes).toBe(0); // nothing is reserved before the first set()
    expect(a.set('a1', 'x'.repeat(3000))).toBe(true);
    expect(b.set('b1', 'y'.repeat(3000))).toBe(true);
    expect(budget.usedBytes).toBe(budget.maxBytes);
    expect(a.set('a2', 'x'.repeat(3000))).toBe(false); // a second slab for either map is over budget
    expect(b.set('b2', 'y'.repeat(3000))).toBe(false);
    a.clear();
    expect(a.size).toBe(0);
    expect(a.get('a1')).toBeUndefined();
    expect(budget.usedBytes).toBe(b.bytes);
    expect(b.set('b2', 'y'.repeat(3000))).toBe(true); // b takes the slab a gave back
    expect(b.get('b1')).toBe('y'.repeat(3000));
    expect(a.set('a3', 'z')).toBe(false);
    b.clear();
    expect(budget.usedBytes).toBe(a.bytes); // a's index, created by the failed set(), stays
    expect(a.set('a3', 'z')).toBe(true); // a cleared map is usable again
    expect(a.get('a3')).toBe('z');
    a.clear();
    expect(budget.usedBytes).toBe(0);
  });
});

test('a value larger than the largest block is refused and the old value of its key is gone', () => {
  const m = new ResidentMap({ slabBytes: 64 * 1024 });
  expect(m.set('big', '{"v":1}')).toBe(true);
  expect(m.set('big', 'x'.repeat(MAX_BLOCK_BYTES))).toBe(false);
  expect(m.has('big')).toBe(false);
  expect(m.size).toBe(0);
  // Exactly the largest block (8 header bytes + key + value) still fits, in a dedicated slab.
  const fits = 'é'.repeat((MAX_BLOCK_BYTES - 12) / 2) + 'x'; // 2-byte characters and one 1-byte
  expect(Buffer.byteLength(fits) + 8 + 3).toBe(MAX_BLOCK_BYTES);
  expect(m.set('big', fits)).toBe(true);
  expect(m.get('big')).toBe(fits);
  expect(m.set('big', fits + 'x')).toBe(false);
  expect(m.get('big')).toBeUndefined();
});

test('unpaired surrogates are stored as U+FFFD, like any UTF-8 encoding of them', () => {
  const m = new ResidentMap();
  expect(m.set('k\ud800', 'v\udc00')).toBe(true);
  expect(m.get('k\ufffd')).toBe('v\ufffd'); // same bytes, same key; JSON.stringify escapes these instead
});

test('a key over 65535 UTF-8 bytes is refused; one at the limit is stored', () => {
  const m = new ResidentMap({ slabBytes: 64 * 1024 });
  expect(m.set('k'.repeat(MAX_KEY_BYTES + 1), 'v')).toBe(false);
  expect(m.set('é'.repeat(32768), 'v')).toBe(false); // 32,768 characters but 65,536 bytes
  expect(m.size).toBe(0);
  const longest = 'k'.repeat(MAX_KEY_BYTES);
  expect(m.set(longest, 'v')).toBe(true);
  expect(m.get(longest)).toBe('v');
  expect(m.get('k'.repeat(MAX_KEY_BYTES + 1))).toBeUndefined();
});

test('50,000 similar keys read back correctly after many growths and deletes', () => {
  const m = new ResidentMap({ slabBytes: 64 * 1024, initialCapacity: 2 });
  const n = 50_000;
  // Mismatches are collected rather than asserted one by one: 150,000 expect() calls take seconds.
  const wrong: number[] = [];
  for (let i = 0; i < n; i++) if (!m.set(`i:user-${i}`, `{"n":${i}}`)) wrong.push(i);
  expect(m.size).toBe(n);
  for (let i = 0; i < n; i++) if (m.get(`i:user-${i}`) !== `{"n":${i}}`) wrong.push(i);
  for (let i = 0; i < n; i += 3) if (!m.delete(`i:user-${i}`)) wrong.push(i);
  for (let i = 0; i < n; i++) if (m.get(`i:user-${i}`) !== (i % 3 === 0 ? undefined : `{"n":${i}}`)) wrong.push(i);
  expect(wrong).toEqual([]);
  expect(m.size).toBe(n - Math.ceil(n / 3));
});

test('non-string keys and values are a TypeError, and bad options a RangeError', () => {
  const m = new ResidentMap();
  expect(() => m.get(1 as unknown as string)).toThrow(TypeError);
  expect(() => m.has(undefined as unknown as string)).toThrow(TypeError);
  expect(() => m.set('k', { a: 1 } as unknown as string)).toThrow(/value must be a string/);
  expect(() => m.delete(null as unknown as string)).toThrow(/key must be a string/);
  expect(() => new ResidentMap({ slabBytes: 1000 })).toThrow(RangeError);
  expect(() => new ResidentMap({ initialCapacity: 1000 })).toThrow(RangeError);
  expect(() => new MemoryBudget(10).release(11)).toThrow(RangeError);
});
