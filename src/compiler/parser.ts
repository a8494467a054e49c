// The Rego v1 module grammar (package, imports, rules, else chains) and the parser's public entry
// points: parseModule, parseQuery, parseTerm. Errors are collected as rego_parse_error diagnostics;
// after an error the parser resumes at the next statement that starts at the left margin.

import type { Body, Head, Import, Module, Package, Rule, RuleKind, Term } from './ast';
import { isGround } from './ast';
import type { Diagnostic } from './diagnostics';
import { KEYWORDS, Token } from './lexer';
import { ExprParser, valueName } from './parser-expr';

/** Parses one policy file. module is present whenever a package clause was read. */
export function parseModule(file: { name: string; text: string }): { module?: Module; diagnostics: Diagnostic[] } {
  const p = new ModuleParser(file.name, file.text);
  const module = p.module();
  return { module, diagnostics: p.diagnostics };
}

/** Parses a query (a body: `data.x.p = x`, `x := data.a; x > 1`, `data.p.f(1)`). */
export function parseQuery(text: string, name = 'query'): { body?: Body; diagnostics: Diagnostic[] } {
  const p = new ModuleParser(name, text);
  const body = p.query();
  return { body, diagnostics: p.diagnostics };
}

/** Parses a single term (e.g. a conformance case's `input_term`, `{"foo": {{1}}}`). */
export function parseTerm(text: string, name = 'term'): { term?: Term; diagnostics: Diagnostic[] } {
  const p = new ModuleParser(name, text);
  const term = p.singleTerm();
  return { term, diagnostics: p.diagnostics };
}

const IMPORT_ROOTS = ['data', 'future', 'input', 'rego'];

/** The module-level grammar on top of the expression grammar. */
class ModuleParser extends ExprParser {
  module(): Module | undefined {
    let pkg: Package | undefined;
    try {
      pkg = this.parsePackage();
    } catch (e) {
      this.reportFail(e);
      this.recover(0);
    }
    if (!pkg) return undefined;
    const mod: Module = { package: pkg, imports: [], rules: [], file: this.file };
    while (this.cur.kind !== 'eof') {
      const start = this.cur;
      try {
        if (this.isK('import') && !this.refAhead()) {
          mod.imports.push(this.parseImport());
        } else if (this.isK('package') && !this.refAhead()) {
          this.fail('unexpected package');
        } else {
          mod.rules.push(...this.parseRules());
        }
      } catch (e) {
        this.reportFail(e, start);
        this.recover(start.start);
      }
    }
    return mod;
  }

  query(): Body | undefined {
    try {
      if (this.cur.kind === 'eof') this.fail('empty query');
      const body = this.parseBody('eof');
      return body;
    } catch (e) {
      this.reportFail(e);
      return undefined;
    }
  }

  singleTerm(): Term | undefined {
    try {
      const t = this.parseTermInfixCall();
      if (this.cur.kind !== 'eof') this.illegal('expected end of term');
      return t;
    } catch (e) {
      this.reportFail(e);
      return undefined;
    }
  }

  // Skips to the next statement: a token at the left margin of a new line, outside any brackets
  // opened since the failed statement began (so unindented body lines are not taken as rules).
  // With unbalanced brackets it falls back to the next left-margin token.
  private recover(startOffset: number): void {
    const failedAt = this.pos;
    let i = 0;
    while (i < this.toks.length && this.toks[i].start < startOffset) i++;
    const open: string[] = [];
    const closerOf: Record<string, string> = { '{': '}', '[': ']', '(': ')' };
    for (; i < this.toks.length; i++) {
      const t = this.toks[i];
      if (t.kind === 'eof') break;
      if (i >= failedAt && t.start > startOffset && open.length === 0 && t.nl && t.col === 1) {
        this.pos = i;
        return;
      }
      if (t.kind === 'punct') {
        if (closerOf[t.value]) open.push(closerOf[t.value]);
        else if (open.length > 0 && open[open.length - 1] === t.value) open.pop(); // stray closers are ignored
      }
    }
    this.pos = failedAt;
    while (this.cur.kind !== 'eof' && (this.cur.start <= startOffset || !(this.cur.nl && this.cur.col === 1))) {
      this.advance();
    }
  }

  // A keyword directly followed by `.` or `[` starts a ref (e.g. a rule named `import.x`).
  private refAhead(): boolean {
    const n = this.peek();
    return !n.ws && n.kind === 'punct' && (n.value === '.' || n.value === '[');
  }

  private parsePackage(): Package {
    if (!this.isK('package')) this.fail('package expected');
    const kw = this.advance();
    if (this.cur.kind !== 'ident') this.illegal();
    const term = this.parseTerm();
    const pathTerms: Term[] = [];
    const dataVar: Term = { value: { type: 'var', name: 'data' }, loc: term.loc };
    if (term.value.type === 'var') {
      pathTerms.push(dataVar, { value: { type: 'string', value: term.value.name }, loc: term.loc });
    } else if (term.value.type === 'ref') {
      const [head, ...rest] = term.value.terms;
      if (head.value.type !== 'var') this.fail(`unexpected ${valueName(head.value)} token: expecting var`, kw);
      pathTerms.push({ ...dataVar, loc: head.loc }, { value: { type: 'string', value: head.value.name }, loc: head.loc });
      for (const r of rest) {
        if (r.value.type !== 'string') this.fail(`unexpected ${valueName(r.value)} token: expecting string`, kw);
        pathTerms.push(r);
      }
    } else {
      this.illegal();
    }
    return { path: pathTerms, loc: this.locFrom(kw) };
  }

  private parseImport(): Import {
    const kw = this.advance();
    if (this.cur.kind !== 'ident') this.illegal();
    const pathTok = this.cur;
    let term = this.parseTerm();
    if (term.value.type === 'var') term = { value: { type: 'ref', terms: [term] }, loc: term.loc };
    if (term.value.type !== 'ref') this.fail('expected path', pathTok);
    const terms = term.value.terms;
    for (let i = 1; i < terms.length; i++) {
      if (terms[i].value.type !== 'string') {
        this.fail(`unexpected ${valueName(terms[i].value)} token: expecting string`, pathTok);
      }
    }
    const root = terms[0].value.type === 'var' ? terms[0].value.name : '';
    if (!IMPORT_ROOTS.includes(root)) {
      this.fail(`unexpected import path, must begin with one of: {data, future, input, rego}, got: ${root}`, pathTok);
    }
    const path = terms.map((t) => (t.value.type === 'var' ? t.value.name : t.value.type === 'string' ? t.value.value : ''));
    if (root === 'rego' && path[1] === 'v2') this.flags.notBody = true;
    if (root === 'future' && path[1] === 'keywords' && (path.length === 2 || path[2] === 'not')) this.flags.notBody = true;
    const imp: Import = { path: term, loc: this.locFrom(kw) };
    if (this.isK('as')) {
      this.advance();
      if (this.cur.kind !== 'ident' || KEYWORDS.has(this.cur.value)) this.illegal('expected var');
      imp.alias = this.advance().value;
    }
    imp.loc = this.locFrom(kw);
    return imp;
  }

  /** One rule statement: a rule, its else chain, and any further bodies for the same head. */
  private parseRules(): Rule[] {
    const start = this.cur;
    let isDefault = false;
    if (this.isK('default') && !this.refAhead()) {
      this.advance();
      isDefault = true;
    }
    const nameTok = this.cur;
    if (nameTok.kind !== 'ident' || (KEYWORDS.has(nameTok.value) && !this.refAhead())) this.illegal();
    const { head, usesContains } = this.parseHead(isDefault);
    const rule: Rule = { head, body: [], default: isDefault, loc: this.locFrom(start) };

    if (isDefault) {
      this.validateDefault(rule, start);
      rule.body = [trueExpr(rule)];
      rule.head.kind = ruleKind(rule.head);
      rule.loc = this.locFrom(start);
      return [rule];
    }

    const hasIf = this.isK('if');
    const ref = head.ref;
    if (hasIf && !usesContains && ref.length === 2) {
      // p[x] if ... is a single-value rule p[x] (a partial object entry when x is not ground)
      const k = ref[1];
      if ((!isGround(k) || k.value.type === 'ref') && !head.args) head.key = k;
      if (!head.value) head.value = this.generatedTrue(head);
    }
    if (!hasIf && !usesContains && !head.args && ref.length === 2 && !this.isP('{')) {
      // legacy partial set `p[x]` without a body
      if (!head.value) this.fail('`contains` keyword is required for partial set rules', start);
    }

    let hadBody = false;
    if (hasIf) {
      this.advance();
      hadBody = true;
      const s = this.save();
      let done = false;
      if (this.isP('{') && this.plainBodyAhead()) {
        done = false;
      } else if (this.isP('{')) {
        // As OPA: try a single literal first; a bare set literal `{ ... }` is really a body.
        const expr = this.attempt(() => this.parseLiteral());
        if (expr && !(expr.kind === 'term' && expr.term.value.type === 'set')) {
          rule.body.push(expr);
          done = true;
        } else {
          this.restore(s);
        }
      } else {
        rule.body.push(this.parseLiteral());
        done = true;
      }
      if (!done) {
        this.advance(); // '{'
        rule.body = this.parseBody('}');
        this.advance();
      }
    } else if (this.isP('{')) {
      this.advance();
      rule.body = this.parseBody('}');
      this.advance();
      hadBody = true;
      this.report('`if` keyword is required before rule body', start);
      if (!usesContains && !head.args && ref.length === 2 && !head.value) {
        head.key = ref[1];
        head.ref = ref.slice(0, 1);
        this.report('`contains` keyword is required for partial set rules', start);
      }
    } else {
      if (!usesContains && !head.args && ref.length === 2 && head.value) {
        // `p[k] := v` without a body: an object entry when k is not ground (as with `if`)
        const k = ref[1];
        if (!isGround(k) || k.value.type === 'ref') head.key = k;
      }
      rule.body = [trueExpr(rule)];
    }
    head.kind = ruleKind(head);
    rule.loc = this.locFrom(start);

    if (this.isK('else') && !this.refAhead()) {
      const elseTok = this.cur;
      if (head.ref.length > 1 && !head.ref.slice(1).every(isGround)) {
        this.fail('else keyword cannot be used on rules with variables in head', elseTok);
      }
      if (head.key) this.fail('else keyword cannot be used on multi-value rules', elseTok);
      rule.else = this.parseElse(head);
      rule.loc = this.locFrom(start);
    }

    const rules = [rule];
    while (hadBody && this.isP('{')) {
      if (rule.else) this.fail('expected else keyword');
      const brace = this.advance();
      const body = this.parseBody('}');
      this.advance();
      const loc = this.locFrom(brace);
      // each clause owns its head terms, so later stages may rewrite one clause without touching another
      rules.push({ head: { ...structuredClone(head), loc }, body, default: false, loc });
    }
    return rules;
  }

  // Fast path for `if {`: when the braces hold something no term can contain at their top level
  // (`;`, `:=`, `=`, a keyword, or a line break between items) and no `|`, it can only be a body,
  // so the speculative literal parse (and its failure) is skipped. Same result, less work.
  private plainBodyAhead(): boolean {
    let depth = 0;
    let body = false;
    for (let i = this.pos; i < this.toks.length; i++) {
      const t = this.toks[i];
      if (t.kind === 'eof') return false;
      if (t.kind === 'punct') {
        if (t.value === '{' || t.value === '[' || t.value === '(') {
          depth++;
          if (depth === 1) continue;
        } else if (t.value === '}' || t.value === ']' || t.value === ')') {
          depth--;
          if (depth === 0) return body;
        }
      }
      if (depth !== 1) continue;
      if (t.kind === 'punct' && t.value === '|') return false;
      if (t.kind === 'punct' && (t.value === ';' || t.value === ':=' || t.value === '=')) body = true;
      else if (t.kind === 'ident' && (t.value === 'some' || t.value === 'every' || t.value === 'not' || t.value === 'with')) body = true;
      else if (t.nl) {
        const prev = this.toks[i - 1];
        if (!(prev.kind === 'punct' && (prev.value === ',' || prev.value === ':' || prev.value === '{'))) body = true;
      }
    }
    return false;
  }

  private generatedTrue(head: Head): Term {
    return { value: { type: 'boolean', value: true }, loc: head.loc };
  }

  /** name, name.a[b], f(x), a.b.f(x) then `contains k` | `= v` | `:= v`. */
  private parseHead(isDefault: boolean): { head: Head; usesContains: boolean } {
    const startTok = this.cur;
    const nameTerm = this.parseVar();
    const after = this.cur;
    if (after.kind === 'punct' && ['+', '-', '*', '/', '%', '&', '|', '==', '!=', '<', '>', '<=', '>='].includes(after.value)) {
      this.illegal();
    }
    // As OPA's parseHeadFinish: `p [x]` and `f (x)` (spaces, same line) still continue the head.
    if (after.ws && !after.nl && after.kind === 'punct' && (after.value === '[' || after.value === '(' || after.value === '.')) {
      after.ws = false;
    }
    const t = this.parseTermFinish(nameTerm);
    let ref: Term[];
    let args: Term[] | undefined;
    if (t.value.type === 'var') {
      ref = [t];
    } else if (t.value.type === 'ref') {
      ref = t.value.terms;
    } else if (t.value.type === 'call') {
      const op = t.value.operator;
      if (op.value.type === 'ref' && op.value.terms[0].value.type === 'var') ref = op.value.terms;
      else this.illegal('expected rule head name', startTok);
      args = t.value.args;
    } else {
      this.illegal('expected rule head name', startTok);
    }
    const name = ref[0].value.type === 'var' ? ref[0].value.name : '';
    const head: Head = { name, ref, assign: false, kind: 'complete', loc: this.locFrom(startTok) };
    if (args) head.args = args;
    const refText = this.text.slice(startTok.start, this.lastEnd).replace(/\(.*$/s, '');
    let usesContains = false;
    if (this.isK('contains')) {
      if (args) this.illegal(`the contains keyword can only be used with multi-value rule definitions (e.g., ${refText} contains <VALUE> { ... })`);
      this.advance();
      head.key = this.parseTermInfixCall();
      usesContains = true;
    } else if (this.isP('=')) {
      this.advance();
      head.value = this.parseTermInfixCall();
    } else if (this.isP(':=')) {
      this.advance();
      head.assign = true;
      if (this.isHeadValueStart()) head.value = this.parseTermInfixCall();
      else if (args) this.illegal(`expected function value term (e.g., ${refText}(...) := <VALUE> { ... })`);
      else if (isDefault) this.illegal(`expected default rule value term (e.g., default ${refText} := <VALUE>)`);
      else this.illegal(`expected rule value term (e.g., ${refText} := <VALUE> { ... })`);
    }
    if (!head.value && !head.key && (ref.length !== 2 || args)) head.value = this.generatedTrue(head);
    head.loc = this.locFrom(startTok);
    return { head, usesContains };
  }

  private isHeadValueStart(): boolean {
    const t = this.cur;
    if (t.kind === 'eof') return false;
    if (t.kind === 'ident' && KEYWORDS.has(t.value) && !['true', 'false', 'null', 'contains'].includes(t.value)) return false;
    return true;
  }

  private validateDefault(rule: Rule, at: Token): void {
    const v = rule.head.value;
    if (!v) this.fail('illegal default rule (must have a value)', at);
    let bad = '';
    const visit = (t: Term): void => {
      if (bad) return;
      const x = t.value;
      switch (x.type) {
        case 'ref':
        case 'var':
        case 'call':
          bad = x.type;
          return;
        case 'array':
        case 'set':
          x.items.forEach(visit);
          return;
        case 'object':
          x.items.forEach(([k, y]) => {
            visit(k);
            visit(y);
          });
          return;
        default:
          return;
      }
    };
    visit(v);
    if (bad) this.fail(`illegal default rule (value cannot contain ${bad})`, at);
    const seen = new Set<string>();
    for (const a of rule.head.args ?? []) {
      if (a.value.type !== 'var') this.fail(`illegal default rule (arguments cannot contain ${valueName(a.value)})`, at);
      if (a.value.name !== '_' && seen.has(a.value.name)) this.fail(`illegal default rule (arguments cannot be repeated ${a.value.name})`, at);
      seen.add(a.value.name);
    }
  }

  /** `else [= v | := v] [if] { body }` / `else := v` (body true), chained. */
  private parseElse(head: Head): Rule {
    const kw = this.advance();
    const h: Head = { ...structuredClone(head), loc: this.locFrom(kw) };
    delete h.value;
    if (this.isP('{') || this.isK('if')) {
      h.value = { value: { type: 'boolean', value: true }, loc: h.loc };
      h.assign = false;
    } else if (this.isP(':=') || this.isP('=')) {
      h.assign = this.advance().value === ':=';
      h.value = this.parseTermInfixCall();
      h.loc = this.locFrom(kw);
    } else {
      this.illegal('expected else value term or rule body');
    }
    const rule: Rule = { head: h, body: [], default: false, loc: h.loc };
    const hasIf = this.isK('if');
    if (!hasIf && !this.isP('{')) {
      rule.body = [trueExpr(rule)];
    } else {
      if (hasIf) this.advance();
      if (this.isP('{')) {
        this.advance();
        rule.body = this.parseBody('}');
        this.advance();
      } else if (this.cur.kind !== 'eof') {
        rule.body = [this.parseLiteral()];
      } else {
        this.illegal('rule body expected');
      }
    }
    rule.loc = this.locFrom(kw);
    if (this.isK('else') && !this.refAhead()) rule.else = this.parseElse(head);
    return rule;
  }
}

/** The `true` body given to rules written without one (constants, defaults, `contains` without body). */
function trueExpr(rule: Rule): Body[number] {
  const loc = rule.loc;
  return { kind: 'term', term: { value: { type: 'boolean', value: true }, loc }, negated: false, with: [], loc };
}

/** Classifies a head as complete, partial set, partial object or function (see ast.ts Head). */
export function ruleKind(h: Head): RuleKind {
  if (h.args) return 'function';
  if (h.key && !h.value) return 'partial_set';
  if (h.key) return 'partial_object';
  for (let i = 1; i < h.ref.length; i++) if (!isGround(h.ref[i])) return 'partial_object';
  return 'complete';
}

