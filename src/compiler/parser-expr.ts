// The expression grammar of Rego: bodies, literals (`not`, `some`, `every`, `with`) and infix
// operators with OPA's precedence (in < relations < | < & < + - < * / %). It mirrors OPA's
// v1/ast/parser.go so that the same inputs parse to the same shapes and errors.

import type { Body, Expr, Term, With } from './ast';
import { INFIX_OPERATORS, MEMBER_2, MEMBER_3 } from './ast';
import { KEYWORDS, Token } from './lexer';
import { TermParser, refName } from './parser-terms';

export { isParseFail } from './parser-base';
export type { GrammarFlags, ParseFail } from './parser-base';
export { refName, valueName } from './parser-terms';

const RELATION_OPS = new Set(['==', '!=', '<', '>', '<=', '>=']);
const OR_OPS = new Set(['|']);
const AND_OPS = new Set(['&']);
const ARITH_OPS = new Set(['+', '-']);
const FACTOR_OPS = new Set(['*', '/', '%']);

/** The expression grammar; the module grammar extends it (parser.ts). */
export class ExprParser extends TermParser {
  // ----- bodies and literals ------------------------------------------------------------------

  /** Parses expressions separated by `;` or newlines until `end` (not consumed). */
  parseBody(end: string): Body {
    if (this.isEnd(end)) this.fail('found empty body');
    const body: Body = [];
    for (;;) {
      body.push(this.parseLiteral());
      if (this.isP(';')) {
        this.advance();
        continue;
      }
      if (this.isEnd(end)) return body;
      if (!this.cur.nl) this.illegal(`expected \\n or ; or ${end}`);
    }
  }

  /** One body expression, with optional `not` and trailing `with` modifiers. */
  protected parseLiteral(): Expr {
    const start = this.cur;
    let negated = false;
    if (this.isK('not')) {
      this.advance();
      negated = true;
    }
    let expr: Expr;
    if (this.isK('some')) {
      if (negated) this.illegal("illegal negation of 'some'");
      expr = this.parseSome();
    } else if (this.isK('every')) {
      if (negated) this.illegal("illegal negation of 'every'");
      expr = this.parseEvery();
    } else if (negated && this.flags.notBody && this.isP('{')) {
      expr = this.parseNotBody(start);
      negated = false;
    } else {
      expr = this.parseExpr();
      expr.negated = negated;
    }
    if (this.isK('with')) expr.with = this.parseWith();
    expr.loc = this.locFrom(start);
    return expr;
  }

  // `not { a; b }` (rego.v2 / future.keywords.not) holds when the body has no solution; it is
  // expressed with existing nodes as `[true | a; b] == []` so later stages need no new node kind.
  private parseNotBody(start: Token): Expr {
    const open = this.advance();
    const body = this.parseBody('}');
    this.advance();
    const loc = this.locFrom(start);
    const comp = this.mk({ type: 'arraycomp', term: { value: { type: 'boolean', value: true }, loc }, body }, open);
    const empty: Term = { value: { type: 'array', items: [] }, loc };
    return { kind: 'call', operator: this.opRef('equal', start), args: [comp, empty], negated: false, with: [], loc };
  }

  /** `lhs (:= | =) rhs`, a call, or a single term. */
  protected parseExpr(): Expr {
    const start = this.cur;
    const lhs = this.parseTermInfixCall();
    if (this.isP(':=') || this.isP('=')) {
      const opTok = this.advance();
      const rhs = this.parseTermInfixCall();
      const op = this.opRef(INFIX_OPERATORS[opTok.value], opTok);
      return { kind: 'call', operator: op, args: [lhs, rhs], negated: false, with: [], loc: this.locFrom(start) };
    }
    if (lhs.value.type === 'call') {
      return { kind: 'call', operator: lhs.value.operator, args: lhs.value.args, negated: false, with: [], loc: lhs.loc };
    }
    return { kind: 'term', term: lhs, negated: false, with: [], loc: lhs.loc };
  }

  /** `some x, y` or `some x in xs` / `some k, v in xs`. */
  protected parseSome(): Expr {
    const kw = this.advance();
    const declStart = kw;
    const afterKw = this.save();
    const term = this.attempt(() => this.parseTermInfixCall());
    if (term && term.value.type === 'call') {
      const name = refName(term.value.operator);
      if (name !== MEMBER_2 && name !== MEMBER_3) this.illegal('expected `x in xs` or `x, y in xs` expression');
      const loc = this.locFrom(declStart);
      return { kind: 'some', decl: { symbols: [term], loc }, negated: false, with: [], loc };
    }
    // restart after `some` and read the var list
    this.restore(afterKw);
    const symbols: Term[] = [];
    for (;;) {
      if (this.cur.kind !== 'ident' || KEYWORDS.has(this.cur.value)) this.illegal('expected var');
      symbols.push(this.parseVar());
      if (!this.isP(',')) break;
      this.advance();
    }
    const loc = this.locFrom(declStart);
    return { kind: 'some', decl: { symbols, loc }, negated: false, with: [], loc };
  }

  /** `every [k,] v in domain { body }`. */
  protected parseEvery(): Expr {
    const kw = this.advance();
    const term = this.parseTermInfixCall();
    if (term.value.type !== 'call') this.illegal('expected `x[, y] in xs { ... }` expression');
    const name = refName(term.value.operator);
    const args = term.value.args;
    let key: Term | undefined;
    let value: Term;
    let domain: Term;
    if (name === MEMBER_2) {
      [value, domain] = args;
    } else if (name === MEMBER_3) {
      [key, value, domain] = args;
      if (key.value.type !== 'var') this.illegal('expected key to be a variable');
    } else {
      this.illegal('expected `x[, y] in xs { ... }` expression');
    }
    if (value.value.type !== 'var') this.illegal('expected value to be a variable');
    if (!this.isP('{')) this.illegal('missing body');
    this.advance();
    const body = this.parseBody('}');
    this.advance();
    const loc = this.locFrom(kw);
    const every = key ? { key, value, domain, body, loc } : { value, domain, body, loc };
    return { kind: 'every', every, negated: false, with: [], loc };
  }

  /** `with target as value` (repeatable). Var targets (`with f as g`) become one-var refs. */
  protected parseWith(): With[] {
    const out: With[] = [];
    while (this.isK('with')) {
      const kw = this.advance();
      if (this.cur.kind !== 'ident' || KEYWORDS.has(this.cur.value)) this.illegal('expected ident');
      let target = this.parseTerm();
      if (target.value.type === 'var') target = { value: { type: 'ref', terms: [target] }, loc: target.loc };
      else if (target.value.type !== 'ref') this.illegal('expected with target path');
      if (!this.isK('as')) this.illegal('expected as keyword');
      this.advance();
      const value = this.parseTermInfixCall();
      out.push({ target, value, loc: this.locFrom(kw) });
    }
    return out;
  }

  // ----- infix terms (lowest to highest precedence: in, relations, |, &, + -, * / %) ---------

  /** A term with infix operators, where `k, v in xs` is allowed (expression level). */
  parseTermInfixCall(): Term {
    return this.parseTermIn(undefined, true);
  }

  /** A term with infix operators inside a list (commas separate elements). */
  protected parseTermInfixCallInList(): Term {
    return this.parseTermIn(undefined, false);
  }

  private parseTermIn(lhs: Term | undefined, keyVal: boolean): Term {
    if (!lhs) lhs = this.parseTermRelation();
    if (keyVal && this.isP(',')) {
      const s = this.save();
      this.advance();
      const mhs = this.attempt(() => this.parseTermRelation());
      if (mhs && this.isK('in')) {
        const inTok = this.advance();
        const rhs = this.parseTermRelation();
        const call = this.call(this.opRef(MEMBER_3, inTok), [lhs, mhs, rhs], lhs.loc);
        return this.isK('in') ? this.parseTermIn(call, keyVal) : call;
      }
      this.restore(s);
    }
    if (this.isK('in')) {
      const inTok = this.advance();
      const rhs = this.parseTermRelation();
      const call = this.call(this.opRef(MEMBER_2, inTok), [lhs, rhs], lhs.loc);
      return this.isK('in') ? this.parseTermIn(call, keyVal) : call;
    }
    return lhs;
  }

  private parseBinary(ops: Set<string>, next: () => Term): Term {
    let lhs = next();
    while (this.cur.kind === 'punct' && ops.has(this.cur.value)) {
      const opTok = this.advance();
      const rhs = next();
      lhs = this.call(this.opRef(INFIX_OPERATORS[opTok.value], opTok), [lhs, rhs], lhs.loc);
    }
    return lhs;
  }

  private parseTermRelation(): Term {
    return this.parseBinary(RELATION_OPS, () => this.parseTermOr());
  }
  private parseTermOr(): Term {
    return this.parseBinary(OR_OPS, () => this.parseTermAnd());
  }
  private parseTermAnd(): Term {
    return this.parseBinary(AND_OPS, () => this.parseTermArith());
  }
  private parseTermArith(): Term {
    return this.parseBinary(ARITH_OPS, () => this.parseTermFactor());
  }
  private parseTermFactor(): Term {
    return this.parseBinary(FACTOR_OPS, () => this.parseTerm());
  }
}
