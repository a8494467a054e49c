// The term grammar: scalars, vars, refs and calls (adjacency decides `a[x]` vs `a [x]`), arrays,
// sets, objects and comprehensions, following OPA's parser (comprehensions win over binary `|`).

import type { Body, Location, Term, Value } from './ast';
import { valuesOf } from './ast';
import { KEYWORDS, Token } from './lexer';
import { ParserBase, isParseFail } from './parser-base';

/** Parses terms; the expression layer (parser-expr.ts) supplies bodies and infix terms. */
export abstract class TermParser extends ParserBase {
  /** Parses expressions separated by `;` or newlines until `end` (not consumed). */
  abstract parseBody(end: string): Body;
  /** A term with infix operators, where `k, v in xs` is allowed (expression level). */
  abstract parseTermInfixCall(): Term;
  /** A term with infix operators inside a list (commas separate elements). */
  protected abstract parseTermInfixCallInList(): Term;

  // ----- plain terms --------------------------------------------------------------------------

  /**
   * A template string, $"a {x} b", lowered as OPA's compiler lowers it:
   * internal.template_string(["a ", {v | v = x}, " b"]). Each placeholder becomes the set of its values,
   * so an undefined one renders <undefined> instead of making the string undefined; the text parts
   * stay strings. Without placeholders it is just the string.
   */
  // Numbers the comprehension vars holding template expressions' values: nested templates need their own.
  private templateVars = 0;

  private parseTemplate(): Term {
    const first = this.advance();
    if (first.tmpl === 'full') return this.mk({ type: 'string', value: first.value }, first);
    const parts: Term[] = [];
    const text = (t: Token) => {
      if (t.value !== '') parts.push(this.mk({ type: 'string', value: t.value }, t, t.end));
    };
    text(first);
    for (let seg = first; seg.tmpl === 'head' || seg.tmpl === 'middle'; ) {
      parts.push(valuesOf(this.parseTermInfixCall(), `__template${this.templateVars++}__`));
      seg = this.cur;
      if (seg.kind !== 'template' || (seg.tmpl !== 'middle' && seg.tmpl !== 'tail')) this.illegal('expected } closing the template expression');
      this.advance();
      text(seg);
    }
    const loc = this.locFrom(first);
    return this.call(this.opRef('internal.template_string', first), [{ value: { type: 'array', items: parts }, loc }], loc);
  }

  /** A single term (no infix operators), followed by ref/call suffixes written without spaces. */
  parseTerm(): Term {
    const t = this.cur;
    let term: Term;
    switch (t.kind) {
      case 'number':
        term = this.parseNumber();
        break;
      case 'string':
        this.advance();
        term = this.mk({ type: 'string', value: t.value }, t);
        break;
      case 'template':
        term = this.parseTemplate();
        break;
      case 'ident':
        if (t.value === 'null') {
          this.advance();
          term = this.mk({ type: 'null' }, t);
        } else if (t.value === 'true' || t.value === 'false') {
          this.advance();
          term = this.mk({ type: 'boolean', value: t.value === 'true' }, t);
        } else if (KEYWORDS.has(t.value) && t.value !== 'contains') {
          // `contains` is also a built-in function name; other keywords cannot start a term.
          this.illegal();
        } else {
          term = this.parseVar();
        }
        break;
      case 'punct':
        if (t.value === '-' && this.peek().kind === 'ident' && (!KEYWORDS.has(this.peek().value) || this.peek().value === 'contains')) {
          // unary minus on a ref: -x → minus(0, x), as OPA
          this.advance();
          const operand = this.parseTermFinish(this.parseVar());
          const zero: Term = { value: { type: 'number', text: '0' }, loc: this.locFrom(t, t.end) };
          return this.call(this.opRef('minus', t), [zero, operand], this.locFrom(t));
        } else if (t.value === '-' || t.value === '.') {
          term = this.parseNumber();
        } else if (t.value === '[') {
          term = this.parseArray();
        } else if (t.value === '{') {
          term = this.parseSetOrObject();
        } else if (t.value === '(') {
          this.advance();
          const inner = this.parseTermInfixCall();
          if (!this.isP(')')) this.fail('non-terminated expression');
          this.advance();
          term = { value: inner.value, loc: this.locFrom(t) };
        } else {
          this.illegal();
        }
        break;
      default:
        this.illegal();
    }
    return this.parseTermFinish(term!);
  }

  /** A variable; wildcards stay `_` (see VarValue in ast.ts: the rewrite stage names them). */
  protected parseVar(): Term {
    const t = this.advance();
    return this.mk({ type: 'var', name: t.value }, t);
  }

  /** Ref and call suffixes directly after a term; bare `input`/`data` become refs (OPA). */
  protected parseTermFinish(head: Term): Term {
    const n = this.cur;
    if (!n.ws && n.kind === 'punct' && (n.value === '.' || n.value === '[' || n.value === '(')) {
      return this.parseRef(head);
    }
    if (head.value.type === 'var' && (head.value.name === 'input' || head.value.name === 'data')) {
      return { value: { type: 'ref', terms: [head] }, loc: head.loc };
    }
    return head;
  }

  private parseRef(head: Term): Term {
    switch (head.value.type) {
      case 'var':
      case 'array':
      case 'object':
      case 'set':
      case 'arraycomp':
      case 'setcomp':
      case 'objectcomp':
      case 'call':
        break;
      default:
        this.fail(`illegal ref (head cannot be ${valueName(head.value)})`, this.tokAt(head.loc));
    }
    const terms: Term[] = [head];
    const start = head.loc;
    for (;;) {
      const t = this.cur;
      if (t.ws || t.kind !== 'punct') break;
      if (t.value === '.') {
        this.advance();
        const id = this.cur;
        if (id.kind !== 'ident' || id.ws) this.illegal('expected ident');
        this.advance();
        terms.push(this.mk({ type: 'string', value: id.value }, id));
      } else if (t.value === '[') {
        this.advance();
        const k = this.parseTermInfixCall();
        if (!this.isP(']')) this.illegal('expected ]');
        this.advance();
        terms.push(k);
      } else if (t.value === '(') {
        const op: Term = { value: { type: 'ref', terms }, loc: this.locFrom(start) };
        this.advance();
        const args = this.parseTermList(')', []);
        this.advance();
        let call: Term;
        if (args.length === 0 && terms.length === 1 && terms[0].value.type === 'var' && terms[0].value.name === 'set') {
          call = this.mk({ type: 'set', items: [] }, start);
        } else {
          call = this.call(op, args, start);
        }
        const n = this.cur;
        if (!n.ws && (this.isP('.') || this.isP('['))) return this.parseRef(call);
        return call;
      } else {
        break;
      }
    }
    return { value: { type: 'ref', terms }, loc: this.locFrom(start) };
  }

  private tokAt(loc: Location): Token {
    return this.toks.find((t) => t.start === loc.offset) ?? this.cur;
  }

  /** Numbers keep their source text; a leading `-` (and `.5` forms) fold into the literal. */
  private parseNumber(): Term {
    const start = this.cur;
    let prefix = '';
    if (this.isP('-')) {
      this.advance();
      prefix = '-';
      if (this.cur.kind !== 'number' && !this.isP('.')) this.illegal('expected number');
    }
    if (this.isP('.')) {
      this.advance();
      prefix += '.';
      if (this.cur.kind !== 'number') this.illegal('expected number');
    }
    const n = this.advance();
    if (!prefix.endsWith('.') && n.value.length > 1 && n.value[0] === '0') {
      const c1 = n.value[1];
      if (!(c1 === '.' || ((c1 === 'e' || c1 === 'E') && n.value.length > 2))) this.illegal('expected number without leading zero', n);
    }
    let text = prefix + n.value;
    if (text.startsWith('-.')) text = '-0' + text.slice(1);
    else if (text.startsWith('.')) text = '0' + text;
    if (text.length > 15 && tooBig(text)) this.fail('number too big', start);
    return this.mk({ type: 'number', text }, start);
  }

  /** Comma-separated terms until `end` (not consumed); trailing comma allowed. */
  protected parseTermList(end: string, r: Term[]): Term[] {
    if (this.isP(end)) return r;
    for (;;) {
      r.push(this.parseTermInfixCallInList());
      if (this.isP(end)) return r;
      if (this.isP(',')) {
        this.advance();
        if (this.isP(end)) return r;
        continue;
      }
      this.illegal(`expected "," or "${end}"`);
    }
  }

  private parseArray(): Term {
    const open = this.advance();
    if (this.isP(']')) {
      this.advance();
      return this.mk({ type: 'array', items: [] }, open);
    }
    let potentialComprehension = true;
    if (this.isP(',')) {
      potentialComprehension = false;
      this.advance();
    }
    const s = this.save();
    // A single plain term first: `[a | b]` is a comprehension, not a binary-or element.
    const head = this.parseTerm();
    if (this.isP(']')) {
      this.advance();
      return this.mk({ type: 'array', items: [head] }, open);
    }
    if (this.isP(',')) {
      this.advance();
      const items = this.parseTermList(']', [head]);
      this.advance();
      return this.mk({ type: 'array', items }, open);
    }
    if (this.isP('|') && potentialComprehension) {
      this.advance();
      const body = this.comprehensionBody(']');
      if (body) {
        this.advance();
        return this.mk({ type: 'arraycomp', term: head, body }, open);
      }
    }
    this.restore(s);
    const items = this.parseTermList(']', []);
    this.advance();
    return this.mk({ type: 'array', items }, open);
  }

  // Parses a comprehension body; on failure at a comma (`[a | b, c]`) returns undefined so the
  // caller falls back to a plain collection, otherwise the body's error stands (as in OPA).
  private comprehensionBody(end: string): Body | undefined {
    try {
      return this.parseBody(end);
    } catch (e) {
      if (isParseFail(e) && this.isP(',')) return undefined;
      throw e;
    }
  }

  private parseSetOrObject(): Term {
    const open = this.advance();
    if (this.isP('}')) {
      this.advance();
      return this.mk({ type: 'object', items: [] }, open);
    }
    let potentialComprehension = true;
    if (this.isP(',')) {
      potentialComprehension = false;
      this.advance();
    }
    const s = this.save();
    let head = this.parseTerm();
    if ((this.isP('|') && potentialComprehension) || this.isP('}') || this.isP(',')) {
      return this.parseSet(open, s, head, potentialComprehension);
    }
    if (this.isP(':')) return this.parseObject(open, head, potentialComprehension);
    this.restore(s);
    head = this.parseTermInfixCallInList();
    if (this.isP('}') || this.isP(',')) return this.parseSet(open, s, head, false);
    if (this.isP(':')) return this.parseObject(open, head, potentialComprehension);
    this.illegal('non-terminated set');
  }

  private parseSet(open: Token, s: [number, number], head: Term, potentialComprehension: boolean): Term {
    if (this.isP('}')) {
      this.advance();
      return this.mk({ type: 'set', items: [head] }, open);
    }
    if (this.isP(',')) {
      this.advance();
      const items = this.parseTermList('}', [head]);
      this.advance();
      return this.mk({ type: 'set', items }, open);
    }
    // '|'
    if (potentialComprehension) {
      this.advance();
      const body = this.comprehensionBody('}');
      if (body) {
        this.advance();
        return this.mk({ type: 'setcomp', term: head, body }, open);
      }
    }
    this.restore(s);
    const items = this.parseTermList('}', []);
    this.advance();
    return this.mk({ type: 'set', items }, open);
  }

  private parseObject(open: Token, key: Term, potentialComprehension: boolean): Term {
    this.advance(); // ':'
    const s = this.save();
    const v = this.parseTerm();
    if (potentialComprehension && (this.isP('}') || this.isP(','))) return this.parseObjectFinish(open, key, v);
    if (potentialComprehension && this.isP('|')) {
      this.advance();
      const body = this.comprehensionBody('}');
      if (body) {
        this.advance();
        return this.mk({ type: 'objectcomp', key, value: v, body }, open);
      }
    }
    this.restore(s);
    const v2 = this.parseTermInfixCallInList();
    if (this.isP('}') || this.isP(',')) return this.parseObjectFinish(open, key, v2);
    this.illegal('non-terminated object');
  }

  private parseObjectFinish(open: Token, key: Term, val: Term): Term {
    const items: Array<[Term, Term]> = [[key, val]];
    if (this.isP(',')) {
      this.advance();
      while (!this.isP('}')) {
        const k = this.parseTermInfixCallInList();
        if (!this.isP(':')) this.illegal('expected :');
        this.advance();
        const v = this.parseTermInfixCallInList();
        items.push([k, v]);
        if (this.isP(',')) {
          this.advance();
          continue;
        }
        if (!this.isP('}')) this.illegal('expected "," or "}"');
      }
    }
    this.advance(); // '}'
    return this.mk({ type: 'object', items }, open);
  }
}

/** The dotted name of an operator ref term ("internal.member_2", "count"); '' if not a plain path. */
export function refName(t: Term): string {
  const v = t.value;
  if (v.type === 'var') return v.name;
  if (v.type !== 'ref') return '';
  const parts: string[] = [];
  for (let i = 0; i < v.terms.length; i++) {
    const x = v.terms[i].value;
    if (i === 0 && x.type === 'var') parts.push(x.name);
    else if (i > 0 && x.type === 'string') parts.push(x.value);
    else return '';
  }
  return parts.join('.');
}

/** OPA's ValueName: how a value's kind is named in messages. */
export function valueName(v: Value): string {
  switch (v.type) {
    case 'arraycomp':
      return 'arraycomprehension';
    case 'setcomp':
      return 'setcomprehension';
    case 'objectcomp':
      return 'objectcomprehension';
    case 'boolean':
      return 'boolean';
    default:
      return v.type;
  }
}

// OPA rejects numbers whose binary exponent exceeds 1e5 ("number too big"); a decimal exponent
// beyond ~30000 is the same bound.
function tooBig(text: string): boolean {
  const m = /^-?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m) return false;
  const intDigits = m[1].replace(/^0+/, '').length;
  const exp = m[3] ? Number(m[3]) : 0;
  return Math.abs(exp + intDigits) > 30000;
}
