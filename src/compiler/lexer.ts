// The Rego tokenizer: turns source text into a flat token array (identifiers, strings, numbers,
// punctuation), recording for each token whether whitespace or a newline preceded it, because
// Rego's grammar depends on adjacency (`a[x]` is a ref, `a [x]` is not) and on line breaks.

/** Token kinds; keywords are identifiers the parser recognises by text. */
export type TokenKind = 'ident' | 'string' | 'template' | 'number' | 'punct' | 'eof' | 'illegal';

/** One token with its span and layout facts. */
export interface Token {
  kind: TokenKind;
  /** Identifier/punctuation text, number text, or the decoded string value. */
  value: string;
  /** Start offset (inclusive) and end offset (exclusive) in the source. */
  start: number;
  end: number;
  row: number;
  col: number;
  /** Whitespace or a comment separates this token from the previous one. */
  ws: boolean;
  /** A line break separates this token from the previous one. */
  nl: boolean;
  /** For strings: it was a raw (backtick) string. */
  raw?: boolean;
  /**
   * For template strings ($"a {x} b"), one token per text segment, value = the decoded text: `full`
   * (no placeholder), or `head` (up to the first `{`), `middle` (between `}` and `{`) and `tail` (after
   * the last `}`), with each placeholder's tokens in between.
   */
  tmpl?: 'full' | 'head' | 'middle' | 'tail';
  /** For illegal tokens: what is wrong. */
  error?: string;
}

/** Rego v1 keywords: never usable as variable names. */
export const KEYWORDS: ReadonlySet<string> = new Set([
  'package', 'import', 'as', 'default', 'else', 'not', 'with', 'some', 'in', 'every', 'if', 'contains',
  'true', 'false', 'null',
]);

const PUNCT1 = '.,;:()[]{}=<>+-*/%&|';
const PUNCT1_CODES: boolean[] = Array.from({ length: 128 }, (_, c) => PUNCT1.includes(String.fromCharCode(c)));

function isIdentStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isIdentPart(c: number): boolean {
  return isIdentStart(c) || isDigit(c);
}

/** Tokenizes Rego source. Never throws: bad input becomes 'illegal' tokens; the list ends with 'eof'. */
export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  const n = text.length;
  let i = 0;
  let row = 1;
  let lineStart = 0;
  let ws = false;
  let nl = false;
  // Open template-string placeholders, innermost last: braces opened inside one, and its string kind.
  const templates: Array<{ depth: number; raw: boolean }> = [];
  const push = (kind: TokenKind, value: string, start: number, extra?: Partial<Token>) => {
    const t: Token = { kind, value, start, end: i, row, col: start - lineStart + 1, ws, nl };
    if (extra !== undefined) Object.assign(t, extra);
    out.push(t);
    ws = false;
    nl = false;
  };
  while (i < n) {
    const c = text.charCodeAt(i);
    // whitespace
    if (c === 10) {
      i++;
      row++;
      lineStart = i;
      ws = true;
      nl = true;
      continue;
    }
    if (c === 32 || c === 9 || c === 13 || c === 0xfeff) {
      i++;
      ws = true;
      continue;
    }
    if (c === 35) {
      // comment to end of line
      while (i < n && text.charCodeAt(i) !== 10) i++;
      ws = true;
      continue;
    }
    const start = i;
    if (isIdentStart(c)) {
      i++;
      while (i < n && isIdentPart(text.charCodeAt(i))) i++;
      push('ident', text.slice(start, i), start);
      continue;
    }
    if (isDigit(c) || (c === 46 && i + 1 < n && isDigit(text.charCodeAt(i + 1)) && !prevAllowsDot(out, ws))) {
      const err = scanNumber();
      if (err) push('illegal', text.slice(start, i), start, { error: err });
      else push('number', text.slice(start, i), start);
      continue;
    }
    if (c === 36 && (text.charCodeAt(i + 1) === 34 || text.charCodeAt(i + 1) === 96)) {
      // $"..." or $`...`: a template string.
      const raw = text.charCodeAt(i + 1) === 96;
      i += 2;
      templateText(start, raw, true);
      continue;
    }
    if (templates.length > 0 && (c === 123 || c === 125)) {
      const top = templates[templates.length - 1];
      if (c === 123) top.depth++;
      else if (top.depth === 0) {
        // The `}` closing a placeholder: the template's text goes on.
        i++;
        templateText(start, top.raw, false);
        continue;
      } else top.depth--;
    }
    if (c === 34) {
      // "..." decoded with JSON rules, exactly as OPA does (json.Unmarshal).
      i++;
      let ok = false;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 92) {
          i += 2;
          continue;
        }
        if (d === 10) break;
        i++;
        if (d === 34) {
          ok = true;
          break;
        }
      }
      const lit = text.slice(start, i);
      if (!ok) {
        push('illegal', lit, start, { error: 'non-terminated string' });
        continue;
      }
      let value: string;
      try {
        value = JSON.parse(lit) as string;
      } catch {
        push('illegal', lit, start, { error: 'illegal string literal: ' + lit });
        continue;
      }
      push('string', value, start);
      continue;
    }
    if (c === 96) {
      // `raw`: no escapes, may span lines
      i++;
      const startRow = row;
      const startLineStart = lineStart;
      while (i < n && text.charCodeAt(i) !== 96) {
        if (text.charCodeAt(i) === 10) {
          row++;
          lineStart = i + 1;
        }
        i++;
      }
      if (i >= n) {
        const t: Token = {
          kind: 'illegal', value: text.slice(start, i), start, end: i, row: startRow,
          col: start - startLineStart + 1, ws, nl, error: 'non-terminated raw string',
        };
        out.push(t);
        ws = nl = false;
        continue;
      }
      i++;
      out.push({
        kind: 'string', value: text.slice(start + 1, i - 1), start, end: i, row: startRow,
        col: start - startLineStart + 1, ws, nl, raw: true,
      });
      ws = nl = false;
      continue;
    }
    const c2 = i + 1 < n ? text.charCodeAt(i + 1) : 0;
    // two-character operators: := == != <= >=
    if (c2 === 61 && (c === 58 || c === 61 || c === 33 || c === 60 || c === 62)) {
      i += 2;
      push('punct', text.slice(start, i), start);
      continue;
    }
    if (c < 128 && PUNCT1_CODES[c]) {
      i++;
      push('punct', text[start], start);
      continue;
    }
    // Anything else is an illegal character; take the whole code point.
    i += c >= 0xd800 && c <= 0xdbff ? 2 : 1;
    push('illegal', text.slice(start, i), start, { error: 'illegal token' });
  }
  out.push({ kind: 'eof', value: '', start: n, end: n, row, col: n - lineStart + 1, ws, nl });
  return out;

  // Scans a template string's text from i up to a placeholder's `{` or the closing quote, and pushes it
  // as one token (see Token.tmpl). `\{` and `\}` stand for the braces themselves; in $"..." other
  // escapes are JSON's, as in "..."; $`...` may span lines and has no other escapes.
  function templateText(start: number, raw: boolean, opening: boolean): void {
    // A segment after a `}` ends that placeholder; one that stops at a `{` opens the next (pushed below).
    if (!opening) templates.pop();
    const startRow = row;
    const startCol = start - lineStart + 1;
    const close = raw ? 96 : 34;
    let lit = '';
    let seg = i;
    let ends: 'placeholder' | 'close' | undefined;
    while (i < n) {
      const d = text.charCodeAt(i);
      if (d === 92 && (text.charCodeAt(i + 1) === 123 || text.charCodeAt(i + 1) === 125)) {
        lit += text.slice(seg, i) + text[i + 1];
        i += 2;
        seg = i;
        continue;
      }
      if (d === 92 && !raw) {
        i += 2;
        continue;
      }
      if (d === 10) {
        if (!raw) break;
        row++;
        lineStart = i + 1;
      }
      if (d === close || d === 123) {
        ends = d === close ? 'close' : 'placeholder';
        lit += text.slice(seg, i);
        i++;
        break;
      }
      i++;
    }
    const emit = (t: Partial<Token> & Pick<Token, 'kind' | 'value'>) => {
      out.push({ start, end: i, row: startRow, col: startCol, ws, nl, ...t });
      ws = nl = false;
    };
    if (!ends) {
      return emit({ kind: 'illegal', value: text.slice(start, i), error: `non-terminated ${raw ? 'raw ' : ''}template string` });
    }
    let value = lit;
    if (!raw) {
      try {
        value = JSON.parse(`"${lit}"`) as string;
      } catch {
        return emit({ kind: 'illegal', value: text.slice(start, i), error: 'illegal template string literal: ' + text.slice(start, i) });
      }
    }
    if (ends === 'placeholder') {
      templates.push({ depth: 0, raw });
      return emit({ kind: 'template', value, tmpl: opening ? 'head' : 'middle', raw });
    }
    emit({ kind: 'template', value, tmpl: opening ? 'full' : 'tail', raw });
  }

  // Scans [digits][.digits][(e|E)[+-]digits] as OPA's scanner does; returns an error text or ''.
  function scanNumber(): string {
    let err = '';
    if (text.charCodeAt(i) !== 46) while (i < n && isDigit(text.charCodeAt(i))) i++;
    if (text.charCodeAt(i) === 46 && !(i + 1 < n && isIdentStart(text.charCodeAt(i + 1)))) {
      i++;
      let found = false;
      while (i < n && isDigit(text.charCodeAt(i))) {
        i++;
        found = true;
      }
      if (!found) err = 'expected fraction';
    }
    const e = text.charCodeAt(i);
    if (e === 101 || e === 69) {
      i++;
      const s = text.charCodeAt(i);
      if (s === 43 || s === 45) i++;
      let found = false;
      while (i < n && isDigit(text.charCodeAt(i))) {
        i++;
        found = true;
      }
      if (!found) err = 'expected exponent';
    }
    if (i < n && isIdentStart(text.charCodeAt(i))) {
      err = 'illegal number format';
      while (i < n && isIdentPart(text.charCodeAt(i))) i++;
    }
    return err;
  }
}

// `x.5` never occurs, but `a[0].b` and `f(x).y` must keep their dot: a dot directly after a term
// closer or identifier is a ref dot, not the start of a number like `.5`.
function prevAllowsDot(out: Token[], ws: boolean): boolean {
  if (ws || out.length === 0) return false;
  const p = out[out.length - 1];
  return p.kind === 'ident' || p.kind === 'string' || (p.kind === 'punct' && (p.value === ')' || p.value === ']' || p.value === '}'));
}
