// The tokenizer: token kinds, decoded strings, number text, and the layout flags the parser relies on.
import { tokenize } from '../../src/compiler/lexer';

describe('tokenize', () => {
  it('splits identifiers, punctuation and two-character operators', () => {
    const toks = tokenize('x := a.b[0] != 1 <= 2');
    expect(toks.map((t) => `${t.kind}:${t.value}`)).toEqual([
      'ident:x', 'punct::=', 'ident:a', 'punct:.', 'ident:b', 'punct:[', 'number:0', 'punct:]',
      'punct:!=', 'number:1', 'punct:<=', 'number:2', 'eof:',
    ]);
  });

  it('records whitespace and newlines before each token', () => {
    const toks = tokenize('a[x]\n  b [y] # comment\nc');
    const by = (v: string) => toks.find((t) => t.value === v)!;
    expect(toks[1]).toMatchObject({ value: '[', ws: false, nl: false });
    expect(by('b')).toMatchObject({ ws: true, nl: true, row: 2, col: 3 });
    expect(toks[5]).toMatchObject({ value: '[', ws: true, nl: false });
    expect(by('c')).toMatchObject({ ws: true, nl: true, row: 3, col: 1 });
  });

  it('decodes JSON escapes including \\u sequences and surrogate pairs', () => {
    const [t] = tokenize('"a\\"b\\\\c\\n\\u00e9\\ud83d\\ude00"');
    expect(t).toMatchObject({ kind: 'string', value: 'a"b\\c\né😀' });
  });

  it('keeps raw strings verbatim, across lines, and tracks rows after them', () => {
    const toks = tokenize('`a\\n\nb` x');
    expect(toks[0]).toMatchObject({ kind: 'string', value: 'a\\n\nb', raw: true, row: 1, col: 1 });
    expect(toks[1]).toMatchObject({ value: 'x', row: 2, col: 4 });
  });

  it('keeps number text exactly (big integers, exponents, fractions)', () => {
    const toks = tokenize('12345678901234567890123 1e1000 2.5E-3 0.5 .5');
    expect(toks.slice(0, 5).map((t) => t.value)).toEqual(['12345678901234567890123', '1e1000', '2.5E-3', '0.5', '.5']);
    expect(toks.slice(0, 5).every((t) => t.kind === 'number')).toBe(true);
  });

  it('reports unterminated strings and stray characters as illegal tokens', () => {
    expect(tokenize('"abc\nx')[0]).toMatchObject({ kind: 'illegal', error: 'non-terminated string' });
    expect(tokenize('`abc')[0]).toMatchObject({ kind: 'illegal', error: 'non-terminated raw string' });
    expect(tokenize('@')[0]).toMatchObject({ kind: 'illegal', error: 'illegal token' });
    expect(tokenize('"\\q"')[0]).toMatchObject({ kind: 'illegal' });
    expect(tokenize('1a')[0]).toMatchObject({ kind: 'illegal', error: 'illegal number format' });
  });

  describe('template strings', () => {
    const kinds = (src: string) => tokenize(src).map((t) => (t.kind === 'template' ? `${t.tmpl}:${t.value}` : `${t.kind}:${t.value}`));

    it('split into text segments around the tokens of each placeholder', () => {
      expect(kinds('$"a {x} b {y.z} c"')).toEqual(['head:a ', 'ident:x', 'middle: b ', 'ident:y', 'punct:.', 'ident:z', 'tail: c', 'eof:']);
      expect(kinds('$"plain"')).toEqual(['full:plain', 'eof:']);
      expect(kinds('$"{x}"')).toEqual(['head:', 'ident:x', 'tail:', 'eof:']);
    });

    it('tell the brace closing a placeholder from braces of sets, objects and nested templates inside it', () => {
      expect(kinds('$"o {{"k": {1}}} n {$"<{x}>"}!"')).toEqual([
        'head:o ', 'punct:{', 'string:k', 'punct::', 'punct:{', 'number:1', 'punct:}', 'punct:}',
        'middle: n ', 'head:<', 'ident:x', 'tail:>', 'tail:!', 'eof:',
      ]);
    });

    it('decode JSON escapes and \\{ \\} as braces; raw ones span lines and keep backslashes', () => {
      expect(kinds('$"q \\"x\\" \\t \\{n} \\\\{y}"')).toEqual(['head:q "x" \t {n} \\', 'ident:y', 'tail:', 'eof:']);
      const raw = tokenize('$`a\\b\n{x}\n`');
      expect(raw.map((t) => t.value)).toEqual(['a\\b\n', 'x', '\n', '']);
      expect(raw[1]).toMatchObject({ row: 2, col: 2 });
    });

    it('report a template left open, by line for "..." and by file end for `...`', () => {
      expect(tokenize('$"a {x} b\ny')[2]).toMatchObject({ kind: 'illegal', error: 'non-terminated template string' });
      expect(tokenize('$`a')[0]).toMatchObject({ kind: 'illegal', error: 'non-terminated raw template string' });
      expect(tokenize('$"a')[0]).toMatchObject({ kind: 'illegal' });
    });
  });
});
