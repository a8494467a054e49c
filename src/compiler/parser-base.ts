// Parser plumbing shared by every grammar layer: the token cursor, speculative save/restore,
// OPA-worded errors ("unexpected X token: ..."), and source locations for new nodes.

import type { Location, Term, Value } from './ast';
import type { Diagnostic } from './diagnostics';
import { KEYWORDS, Token, tokenize } from './lexer';

/** Thrown (as a plain object, no stack capture: speculative parses use it) to abandon a statement. */
export interface ParseFail {
  parseFail: true;
  message: string;
  tok: Token;
}

/** True for the parser's own statement-abandoning failures (anything else is a bug and rethrown). */
function isParseFail(e: unknown): e is ParseFail {
  return typeof e === 'object' && e !== null && (e as ParseFail).parseFail === true;
}

/** Options that change the grammar (set by `import rego.v2` / `import future.keywords.not`). */
export interface GrammarFlags {
  /** `not { a; b }` negates a whole body. */
  notBody: boolean;
}

/** Token cursor, error reporting and location helpers for the grammar classes built on it. */
export abstract class ParserBase {
  protected readonly toks: Token[];
  protected pos = 0;
  protected lastEnd = 0;
  readonly diagnostics: Diagnostic[] = [];
  readonly flags: GrammarFlags = { notBody: false };

  constructor(
    protected readonly file: string,
    protected readonly text: string,
  ) {
    this.toks = tokenize(text);
  }

  // ----- token helpers -----------------------------------------------------------------------

  protected get cur(): Token {
    return this.toks[this.pos];
  }

  protected peek(k = 1): Token {
    return this.toks[Math.min(this.pos + k, this.toks.length - 1)];
  }

  protected advance(): Token {
    const t = this.toks[this.pos];
    if (t.kind !== 'eof') this.pos++;
    this.lastEnd = t.end;
    return t;
  }

  /** True when the current token is the punctuation p. */
  protected isP(p: string, t: Token = this.cur): boolean {
    return t.kind === 'punct' && t.value === p;
  }

  /** True when the current token is the keyword (or identifier) w. */
  protected isK(w: string, t: Token = this.cur): boolean {
    return t.kind === 'ident' && t.value === w;
  }

  /** True for a token that ends the construct: eof, or the closing punctuation `end`. */
  protected isEnd(end: string, t: Token = this.cur): boolean {
    return end === 'eof' ? t.kind === 'eof' : this.isP(end, t);
  }

  protected save(): [number, number] {
    return [this.pos, this.lastEnd];
  }

  protected restore(s: [number, number]): void {
    [this.pos, this.lastEnd] = s;
  }

  /** How OPA names a token in messages: "}", ":=", "ident", "string", "number", "eof", "if"... */
  protected tokName(t: Token): string {
    switch (t.kind) {
      case 'ident':
        return KEYWORDS.has(t.value) ? t.value : 'ident';
      case 'punct':
        return t.value;
      case 'illegal':
        return 'illegal';
      default:
        return t.kind;
    }
  }

  /** Abandons the current statement with an exact message at token t. */
  protected fail(message: string, t: Token = this.cur): never {
    const e: ParseFail = { parseFail: true, message, tok: t };
    throw e;
  }

  /** OPA's p.illegal: "unexpected <tok> token|keyword[: note]" (or the lexer's own error). */
  protected illegal(note = '', t: Token = this.cur): never {
    if (t.kind === 'illegal') this.fail(t.error ?? 'illegal token', t);
    const kind = t.kind === 'ident' && KEYWORDS.has(t.value) ? 'keyword' : 'token';
    this.fail(`unexpected ${this.tokName(t)} ${kind}${note ? ': ' + note : ''}`, t);
  }

  protected expectP(p: string): Token {
    if (!this.isP(p)) this.illegal(`expected ${p}`);
    return this.advance();
  }

  /** Records a parse diagnostic without abandoning the statement. */
  protected report(message: string, at: { row: number; col: number }): void {
    this.diagnostics.push({ code: 'rego_parse_error', message, file: this.file, row: at.row, col: at.col });
  }

  /** Records a failure; pathological nesting that exhausts the JS stack becomes a diagnostic too. */
  protected reportFail(e: unknown, at: Token = this.cur): void {
    if (e instanceof RangeError && /call stack/i.test(e.message)) {
      this.report('maximum nesting depth exceeded', at);
      return;
    }
    if (!isParseFail(e)) throw e;
    this.report(e.message, e.tok);
  }

  /** Runs f speculatively: on a parse failure, restores the position and returns undefined. */
  protected attempt<T>(f: () => T): T | undefined {
    const s = this.save();
    try {
      return f();
    } catch (e) {
      if (!isParseFail(e)) throw e;
      this.restore(s);
      return undefined;
    }
  }

  // ----- locations ----------------------------------------------------------------------------

  protected locFrom(start: { row: number; col: number; offset?: number; start?: number }, end = this.lastEnd): Location {
    const offset = start.offset ?? start.start ?? 0;
    return { file: this.file, row: start.row, col: start.col, offset, text: this.text.slice(offset, end) };
  }

  protected mk(value: Value, start: Token | Location, end = this.lastEnd): Term {
    return { value, loc: this.locFrom(start, end) };
  }

  protected opRef(name: string, t: Token): Term {
    const loc = this.locFrom(t, t.end);
    const parts = name.split('.');
    return {
      value: {
        type: 'ref',
        terms: parts.map((p, i) => (i === 0 ? { value: { type: 'var', name: p }, loc } : { value: { type: 'string', value: p }, loc })),
      },
      loc,
    } as Term;
  }

  protected call(op: Term, args: Term[], start: Location): Term {
    return { value: { type: 'call', operator: op, args }, loc: this.locFrom(start) };
  }
}

export { isParseFail };
