// Template strings ($"..." and $`...`, OPA 1.12's string interpolation), compiled and evaluated:
// values rendered as OPA renders them, undefined placeholders as <undefined>, escapes, nesting,
// comprehensions, and the errors OPA gives (several values in one placeholder, an unclosed one).
import { compile } from '../../src/compiler';
import { loadEngine } from '../../src/engine/engine';
import { EngineError } from '../../src/engine/errors';
import { callHostBuiltin } from '../../src/engine/builtins';

jest.setTimeout(60_000);

const POLICY = `package t
import rego.v1

x := 5
users := [{"name": "Alice"}, {"name": "Bob"}]

vars := $"value is {x} and {input.x}"
escaped := $"Hello, \\{n1} and {users[1].name}!"
values := $"missing {input.nope}, obj {{"k": [1, 2.5]}}, bool {true}, null {null}, arr {[1, "a"]}"
raw := $\`multi
line {x + 1} \\{kept}\`
nested := $"nested {$"<{x}>"}"
comprehension := $"names {[n | some u in users; n := u.name]}"
empty := $""
plain := $"plain"
only := $"{x}"
json_escapes := $"q \\"{x}\\" \\t"
per_user := [s | some u in users; s := $"{u.name}!"]
greeting(name) := $"hi {name}"
called := greeting("ann")
many := $"many {["a", "b"][_]}"
deny contains $"user {input.user} may not {input.action}" if not input.ok
`;

let engine: ReturnType<typeof loadEngine>;
beforeAll(async () => {
  const entrypoints = ['vars', 'escaped', 'values', 'raw', 'nested', 'comprehension', 'empty', 'plain', 'only', 'json_escapes', 'per_user', 'called', 'many', 'deny'].map((r) => `t/${r}`);
  const r = await compile({ files: [{ name: 't.rego', text: POLICY }], entrypoints });
  expect(r.diagnostics).toEqual([]);
  engine = loadEngine(r.wasm!);
});

const value = (rule: string, input: unknown = {}) => engine.evaluate(`t/${rule}`, input)[0]?.result;

describe('template strings', () => {
  test('render placeholders: strings raw, other values as Rego text', () => {
    expect(value('vars', { x: 'three' })).toBe('value is 5 and three');
    expect(value('values')).toBe('missing <undefined>, obj {"k": [1, 2.5]}, bool true, null null, arr [1, "a"]');
    expect(value('only')).toBe('5');
    expect(value('called')).toBe('hi ann');
  });

  test('an undefined placeholder renders <undefined> and leaves the rule defined', () => {
    expect(value('vars')).toBe('value is 5 and <undefined>');
    expect(value('deny', { action: 'read' })).toEqual(['user <undefined> may not read']);
    expect(value('deny', { ok: true })).toEqual([]);
  });

  test('\\{ is a literal brace; "..." keeps JSON escapes; $`...` spans lines', () => {
    expect(value('escaped')).toBe('Hello, {n1} and Bob!');
    expect(value('json_escapes')).toBe('q "5" \t');
    expect(value('raw')).toBe('multi\nline 6 {kept}');
    expect(value('empty')).toBe('');
    expect(value('plain')).toBe('plain');
  });

  test('nest, and work inside comprehensions and around them', () => {
    expect(value('nested')).toBe('nested <5>');
    expect(value('comprehension')).toBe('names ["Alice", "Bob"]');
    expect(value('per_user')).toEqual(['Alice!', 'Bob!']);
  });

  test('a placeholder with several values is an error, as in OPA', () => {
    expect(() => engine.evaluate('t/many', {})).toThrow(EngineError);
    expect(() => engine.evaluate('t/many', {})).toThrow(/t\.rego:\d+: eval_builtin_error: internal\.template_string: template-strings must not produce multiple outputs/);
  });

  test('an unclosed placeholder is a parse error at the template', async () => {
    const r = await compile({ files: [{ name: 'bad.rego', text: 'package t\n\np := $"a {x b"\n' }], entrypoints: [] });
    expect(r.ok).toBe(false);
    expect(r.diagnostics[0]).toMatchObject({ code: 'rego_parse_error', row: 3 });
  });

  test('internal.template_string concatenates text parts and one-value sets', () => {
    expect(callHostBuiltin('internal.template_string', [['a', [1], ' ', [], ' ', ['s'], [{ b: [true] }]]])).toBe('a1 <undefined> s{"b": [true]}');
  });
});
