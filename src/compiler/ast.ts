// The Rego abstract syntax tree, shaped after OPA's v1/ast (Module, Rule, Head, Body, Expr, Term),
// plus small pure helpers over it. The parser produces it; checks, the planner and tools consume it.
// Contract: other stages code against these names. Add fields and helpers; never rename or remove.

/** Where a node sits in its source file: 1-based row/col, 0-based byte offset, and the node's text. */
export interface Location {
  file: string;
  row: number;
  col: number;
  offset: number;
  text: string;
}

/** A location for synthesized nodes that have no source text. */
export const NO_LOCATION: Location = Object.freeze({ file: '', row: 0, col: 0, offset: 0, text: '' }) as Location;

// ---------------------------------------------------------------------------------------------
// Values and terms

/** The JSON null literal. */
export interface NullValue { type: 'null' }
/** A boolean literal. */
export interface BooleanValue { type: 'boolean'; value: boolean }
/** A number, kept as its source text exactly as OPA does (json.Number), e.g. "1e1000", "-3", "12345678901234567890". */
export interface NumberValue { type: 'number'; text: string }
/** A string literal, already unescaped (raw strings are taken verbatim). */
export interface StringValue { type: 'string'; value: string }
/**
 * A variable. Wildcards stay `_` in the parser's output; every `_` is a distinct variable, and the
 * rewrite stage gives each its own name (OPA's parser does that renaming itself, to `$N`).
 */
export interface VarValue { type: 'var'; name: string }
/**
 * A reference, as OPA's Ref ([]*Term): terms[0] is the head (a var such as `data`, `input`, `x`, or
 * a composite/call term, e.g. `[1,2][0]`, `f(x).y`), the rest are path operands. Dotted operands
 * (`a.b`) become string terms; bracket operands (`a[x]`) keep whatever term was written.
 */
export interface RefValue { type: 'ref'; terms: Term[] }
/** An array literal. */
export interface ArrayValue { type: 'array'; items: Term[] }
/** An object literal; keys may be any term (vars, numbers, refs...), kept in source order. */
export interface ObjectValue { type: 'object'; items: Array<[Term, Term]> }
/** A set literal (`{1, 2}`) or `set()` for the empty set. */
export interface SetValue { type: 'set'; items: Term[] }
/** `[term | body]` */
export interface ArrayComprehensionValue { type: 'arraycomp'; term: Term; body: Body }
/** `{term | body}` */
export interface SetComprehensionValue { type: 'setcomp'; term: Term; body: Body }
/** `{key: value | body}` */
export interface ObjectComprehensionValue { type: 'objectcomp'; key: Term; value: Term; body: Body }
/**
 * A call nested inside a term, e.g. `count(x)` in `n := count(x)` or `1 + 2` in `x := 1 + 2`
 * (operators become calls named as OPA names them: plus, minus, mul, div, rem, and, or, eq, ...).
 * operator is a ref term (`count`, `object.get`, `data.lib.f`).
 */
export interface CallValue { type: 'call'; operator: Term; args: Term[] }

/** Every kind of Rego value a term may hold (OPA's ast.Value). */
export type Value =
  | NullValue
  | BooleanValue
  | NumberValue
  | StringValue
  | VarValue
  | RefValue
  | ArrayValue
  | ObjectValue
  | SetValue
  | ArrayComprehensionValue
  | SetComprehensionValue
  | ObjectComprehensionValue
  | CallValue;

/** The discriminant of a Value. */
export type ValueType = Value['type'];

/** A value with its source location (OPA's ast.Term). */
export interface Term {
  value: Value;
  loc: Location;
}

// ---------------------------------------------------------------------------------------------
// Expressions and bodies

/** A query or rule body: expressions joined by `;` or newlines, all of which must hold. */
export type Body = Expr[];

/** What every expression carries: negation (`not`), `with` modifiers, and its location. */
export interface ExprBase {
  negated: boolean;
  with: With[];
  loc: Location;
}

/** A single term as an expression, e.g. `input.admin`, `true`, `x`. */
export interface TermExpr extends ExprBase {
  kind: 'term';
  term: Term;
}

/**
 * A call expression (OPA's Expr with Terms = []*Term): operator is a ref term, e.g. `eq` for `=`,
 * `assign` for `:=`, `internal.member_2` for `x in xs`, `count`, `data.lib.f`. A built-in call
 * with one argument more than its arity (e.g. `count(x, n)`) is the output-argument form.
 */
export interface CallExpr extends ExprBase {
  kind: 'call';
  operator: Term;
  args: Term[];
}

/** A `some` declaration as an expression. */
export interface SomeExpr extends ExprBase {
  kind: 'some';
  decl: SomeDecl;
}

/** An `every` quantifier as an expression. */
export interface EveryExpr extends ExprBase {
  kind: 'every';
  every: Every;
}

/** One expression of a body. */
export type Expr = TermExpr | CallExpr | SomeExpr | EveryExpr;

/** The discriminant of an Expr. */
export type ExprKind = Expr['kind'];

/**
 * `some x, y` (symbols are var terms) or `some x in xs` / `some k, v in xs` (symbols is a single
 * call term: internal.member_2(x, xs) or internal.member_3(k, v, xs)), as in OPA's SomeDecl.
 */
export interface SomeDecl {
  symbols: Term[];
  loc: Location;
}

/** `every k, v in domain { body }` (key absent for `every v in domain { ... }`). */
export interface Every {
  key?: Term;
  value: Term;
  domain: Term;
  body: Body;
  loc: Location;
}

/** `with target as value`; target is a ref term (input..., data..., or a function/built-in name). */
export interface With {
  target: Term;
  value: Term;
  loc: Location;
}

// ---------------------------------------------------------------------------------------------
// Rules and modules

/** How a rule contributes to its document (OPA's RuleKind + function-ness). */
export type RuleKind = 'complete' | 'partial_set' | 'partial_object' | 'function';

/**
 * A rule head. ref is the (possibly multi-key) reference the rule defines, relative to the package:
 * ref[0] is a var term (the rule name), dotted parts are string terms, bracket parts any term (they
 * may contain vars, e.g. `a.b[c].d := 1`).
 * - complete:       `p := 1`, `p = 1`, `p if {...}` (value true), `a.b.c := 1` (ground ref)
 * - partial_set:    `p contains x if {...}` (key = x, value absent)
 * - partial_object: `p[k] := v if {...}`, `a.b[c].d := 1` (ref has a non-ground bracket part)
 * - function:       `f(x) := y if {...}` (args set)
 * assign is true for `:=` heads, false for `=` and the implicit `true`.
 */
export interface Head {
  /** The rule name: the var at ref[0] (OPA's Head.Name for simple heads). */
  name: string;
  ref: Term[];
  args?: Term[];
  key?: Term;
  value?: Term;
  assign: boolean;
  kind: RuleKind;
  loc: Location;
}

/**
 * A rule: `default` rules (and rules written without a body) get the body `true`, as in OPA; `else` chains hang off the first clause
 * (`f(x) := 1 if {...} else := 2`), each else rule carrying its own copy of the head with its own value.
 */
export interface Rule {
  head: Head;
  body: Body;
  else?: Rule;
  default: boolean;
  loc: Location;
}

/** `package a.b.c`; path is the full ref starting at `data` (data.a.b.c), as in OPA. */
export interface Package {
  path: Term[];
  loc: Location;
}

/**
 * `import data.x as y`, `import input.x`, `import rego.v1`, `import future.keywords.in`.
 * path is a ref term; alias is the name given with `as`.
 */
export interface Import {
  path: Term;
  alias?: string;
  loc: Location;
}

/** One parsed policy file. */
export interface Module {
  package: Package;
  imports: Import[];
  rules: Rule[];
  /** The file name as given to the parser (used in diagnostics). */
  file: string;
}

// ---------------------------------------------------------------------------------------------
// Operator names (exactly OPA's)

/** Infix operators mapped to the call names OPA uses for them. */
export const INFIX_OPERATORS: Readonly<Record<string, string>> = Object.freeze({
  '=': 'eq',
  ':=': 'assign',
  '==': 'equal',
  '!=': 'neq',
  '<': 'lt',
  '<=': 'lte',
  '>': 'gt',
  '>=': 'gte',
  '+': 'plus',
  '-': 'minus',
  '*': 'mul',
  '/': 'div',
  '%': 'rem',
  '&': 'and',
  '|': 'or',
});

/** The call name of `x in xs`. */
export const MEMBER_2 = 'internal.member_2';
/** The call name of `k, v in xs`. */
export const MEMBER_3 = 'internal.member_3';

// ---------------------------------------------------------------------------------------------
// Constructors (for synthesized nodes; loc defaults to NO_LOCATION)

/** Builds a term from a value. */
export function term(value: Value, loc: Location = NO_LOCATION): Term {
  return { value, loc };
}
/** Builds a var term. */
export function varTerm(name: string, loc: Location = NO_LOCATION): Term {
  return { value: { type: 'var', name }, loc };
}
/** Builds a string term. */
export function stringTerm(value: string, loc: Location = NO_LOCATION): Term {
  return { value: { type: 'string', value }, loc };
}
/** Builds a number term from its text. */
export function numberTerm(text: string, loc: Location = NO_LOCATION): Term {
  return { value: { type: 'number', text }, loc };
}
/** Builds a boolean term. */
export function booleanTerm(value: boolean, loc: Location = NO_LOCATION): Term {
  return { value: { type: 'boolean', value }, loc };
}
/** Builds a null term. */
export function nullTerm(loc: Location = NO_LOCATION): Term {
  return { value: { type: 'null' }, loc };
}
/** Builds a ref term from its terms. */
export function refTerm(terms: Term[], loc: Location = NO_LOCATION): Term {
  return { value: { type: 'ref', terms }, loc };
}
/** Builds a ref term from a dotted name such as "data.x.p" or "object.get" (head var, string parts). */
export function refFromPath(path: string | string[], loc: Location = NO_LOCATION): Term {
  const parts = typeof path === 'string' ? path.split('.') : path;
  return refTerm(parts.map((p, i) => (i === 0 ? varTerm(p, loc) : stringTerm(p, loc))), loc);
}
/**
 * `{name | name = expr}`: the set of expr's values, empty when it is undefined. OPA's lowering of print
 * arguments and template-string placeholders, so an undefined one does not make the whole call undefined.
 */
export function valuesOf(expr: Term, name: string): Term {
  const v = varTerm(name, expr.loc);
  const bind: CallExpr = { kind: 'call', negated: false, with: [], loc: expr.loc, operator: refFromPath('eq', expr.loc), args: [v, expr] };
  return { value: { type: 'setcomp', term: v, body: [bind] }, loc: expr.loc };
}
/** Builds a call term with an operator given by name (e.g. "plus") or as a ref term. */
export function callTerm(operator: string | Term, args: Term[], loc: Location = NO_LOCATION): Term {
  const op = typeof operator === 'string' ? refFromPath(operator, loc) : operator;
  return { value: { type: 'call', operator: op, args }, loc };
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Formats a location as "file:row:col" (the prefix of every diagnostic). */
export function formatLocation(loc: Location): string {
  return `${loc.file}:${loc.row}:${loc.col}`;
}

/**
 * Returns a ref's terms as plain names when the head is a var and every other part is a string,
 * e.g. data.x["p"] → ["data","x","p"]; undefined when any part is not a string (a var, a number...).
 */
export function refToPath(ref: Term[] | Term): string[] | undefined {
  const terms = Array.isArray(ref) ? ref : ref.value.type === 'ref' ? ref.value.terms : [ref];
  if (terms.length === 0) return undefined;
  const head = terms[0].value;
  if (head.type !== 'var') return undefined;
  const out = [head.name];
  for (let i = 1; i < terms.length; i++) {
    const v = terms[i].value;
    if (v.type !== 'string') return undefined;
    out.push(v.value);
  }
  return out;
}

/** The longest leading part of a ref that is a plain path (head var + string parts). */
export function refGroundPrefix(ref: Term[]): string[] {
  const out: string[] = [];
  if (ref.length === 0 || ref[0].value.type !== 'var') return out;
  out.push(ref[0].value.name);
  for (let i = 1; i < ref.length; i++) {
    const v = ref[i].value;
    if (v.type !== 'string') break;
    out.push(v.value);
  }
  return out;
}

/** The dotted name of a call's operator (e.g. "count", "object.get", "data.lib.f"); undefined if not a plain path. */
export function operatorName(operator: Term): string | undefined {
  const p = refToPath(operator);
  return p ? p.join('.') : undefined;
}

/** A literal: a scalar, or an array/set/object made only of literals (no vars, refs, calls or comprehensions). */
export function isLiteral(t: Term): boolean {
  const v = t.value;
  switch (v.type) {
    case 'null':
    case 'boolean':
    case 'number':
    case 'string':
      return true;
    case 'array':
    case 'set':
      return v.items.every(isLiteral);
    case 'object':
      return v.items.every(([k, x]) => isLiteral(k) && isLiteral(x));
    default:
      return false;
  }
}

/** True when a term contains no variables (a ref is ground when all its terms are; comprehensions never are). */
export function isGround(t: Term): boolean {
  const v = t.value;
  switch (v.type) {
    case 'null':
    case 'boolean':
    case 'number':
    case 'string':
      return true;
    case 'var':
      return false;
    case 'ref':
      return v.terms.every(isGround);
    case 'array':
    case 'set':
      return v.items.every(isGround);
    case 'object':
      return v.items.every(([k, x]) => isGround(k) && isGround(x));
    case 'call':
      return v.args.every(isGround);
    case 'arraycomp':
    case 'setcomp':
    case 'objectcomp':
      // OPA: comprehensions are ground only when their (closure) vars are; treat as non-ground.
      return false;
  }
}

/** True for scalar values (null, boolean, number, string). */
export function isScalar(v: Value): boolean {
  return v.type === 'null' || v.type === 'boolean' || v.type === 'number' || v.type === 'string';
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Renders a term as Rego source, close to OPA's Term.String() (used in messages and tests). */
export function termToString(t: Term): string {
  return valueToString(t.value);
}

/** Renders a value as Rego source, close to OPA's Value.String(). */
export function valueToString(v: Value): string {
  switch (v.type) {
    case 'null':
      return 'null';
    case 'boolean':
      return v.value ? 'true' : 'false';
    case 'number':
      return v.text;
    case 'string':
      return JSON.stringify(v.value);
    case 'var':
      return v.name;
    case 'ref':
      return refToString(v.terms);
    case 'array':
      return `[${v.items.map(termToString).join(', ')}]`;
    case 'set':
      return v.items.length === 0 ? 'set()' : `{${v.items.map(termToString).join(', ')}}`;
    case 'object':
      return `{${v.items.map(([k, x]) => `${termToString(k)}: ${termToString(x)}`).join(', ')}}`;
    case 'arraycomp':
      return `[${termToString(v.term)} | ${bodyToString(v.body)}]`;
    case 'setcomp':
      return `{${termToString(v.term)} | ${bodyToString(v.body)}}`;
    case 'objectcomp':
      return `{${termToString(v.key)}: ${termToString(v.value)} | ${bodyToString(v.body)}}`;
    case 'call':
      return `${termToString(v.operator)}(${v.args.map(termToString).join(', ')})`;
  }
}

/** Renders a ref as OPA does: data.x.p, x[y], data.x["a-b"]. */
export function refToString(ref: Term[]): string {
  if (ref.length === 0) return '';
  const head = ref[0].value;
  let s = head.type === 'var' ? head.name : termToString(ref[0]);
  for (let i = 1; i < ref.length; i++) {
    const v = ref[i].value;
    if (v.type === 'string' && IDENT.test(v.value)) s += `.${v.value}`;
    else s += `[${termToString(ref[i])}]`;
  }
  return s;
}

/** Renders an expression as Rego source (approximate; for messages and debugging). */
export function exprToString(e: Expr): string {
  let s: string;
  switch (e.kind) {
    case 'term':
      s = termToString(e.term);
      break;
    case 'call':
      s = `${termToString(e.operator)}(${e.args.map(termToString).join(', ')})`;
      break;
    case 'some':
      s = `some ${e.decl.symbols.map(termToString).join(', ')}`;
      break;
    case 'every': {
      const ev = e.every;
      const kv = ev.key ? `${termToString(ev.key)}, ${termToString(ev.value)}` : termToString(ev.value);
      s = `every ${kv} in ${termToString(ev.domain)} { ${bodyToString(ev.body)} }`;
      break;
    }
  }
  if (e.negated) s = `not ${s}`;
  for (const w of e.with) s += ` with ${termToString(w.target)} as ${termToString(w.value)}`;
  return s;
}

/** Renders a body with `; ` separators. */
export function bodyToString(b: Body): string {
  return b.map(exprToString).join('; ');
}

/** The package path without the leading `data`, e.g. ["x","y"] for `package x.y`. */
export function packagePath(m: Module): string[] {
  return (refToPath(m.package.path) ?? []).slice(1);
}

/**
 * The full ref a rule defines: package path terms followed by the head ref's terms after the name
 * (the name itself becomes a string term), e.g. data.x.p[k] for `package x` / `p[k] := v`.
 */
export function ruleRef(m: Module, r: Rule): Term[] {
  const pkg = m.package.path;
  const h = r.head.ref;
  return [...pkg, stringTerm(r.head.name, h[0]?.loc ?? r.head.loc), ...h.slice(1)];
}

/** The plain leading part of a rule's full path as a dotted string, e.g. "data.x.p" (stops at the first non-string part). */
export function rulePathString(m: Module, r: Rule): string {
  return refGroundPrefix(ruleRef(m, r)).join('.');
}

/** Visits terms and bodies (see walker). */
export interface Walker {
  term(t: Term): void;
  body(b: Body): void;
}

/** What a walk does at a node before (or instead of) the default descent. */
export interface WalkHooks {
  /** Returns true when it has handled the term, children included. */
  term?(t: Term, walk: Walker): boolean | void;
  /** Returns true when it has handled the expression (its `with` modifiers are still walked). */
  expr?(e: Expr, walk: Walker): boolean | void;
  /** Also walk `every` key/value terms and `with` targets (default true); the checks read neither. */
  bindings?: boolean;
}

/**
 * A pre-order walk over terms and bodies, comprehension and `every` bodies included, that descends into
 * every child unless a hook handled the node itself.
 */
export function walker(hooks: WalkHooks): Walker {
  const bindings = hooks.bindings ?? true;
  const term = (t: Term): void => {
    if (hooks.term?.(t, walk)) return;
    const v = t.value;
    switch (v.type) {
      case 'ref':
        v.terms.forEach(term);
        return;
      case 'array':
      case 'set':
        v.items.forEach(term);
        return;
      case 'object':
        for (const [k, x] of v.items) {
          term(k);
          term(x);
        }
        return;
      case 'call':
        term(v.operator);
        v.args.forEach(term);
        return;
      case 'arraycomp':
      case 'setcomp':
        term(v.term);
        body(v.body);
        return;
      case 'objectcomp':
        term(v.key);
        term(v.value);
        body(v.body);
        return;
      default:
        return;
    }
  };
  const body = (b: Body): void => {
    for (const e of b) {
      if (!hooks.expr?.(e, walk)) {
        switch (e.kind) {
          case 'term':
            term(e.term);
            break;
          case 'call':
            term(e.operator);
            e.args.forEach(term);
            break;
          case 'some':
            e.decl.symbols.forEach(term);
            break;
          case 'every':
            if (bindings) {
              if (e.every.key) term(e.every.key);
              term(e.every.value);
            }
            term(e.every.domain);
            body(e.every.body);
            break;
        }
      }
      for (const w of e.with) {
        if (bindings) term(w.target);
        term(w.value);
      }
    }
  };
  const walk: Walker = { term, body };
  return walk;
}

const allTerms = (fn: (t: Term) => void): Walker => walker({ term: (t) => void fn(t) });

/** Calls fn on every term reachable from t (pre-order), including terms inside comprehension bodies. */
export function walkTerms(t: Term, fn: (t: Term) => void): void {
  allTerms(fn).term(t);
}

/** Calls fn on every term of every expression of a body (including with targets/values and nested bodies). */
export function walkBodyTerms(body: Body, fn: (t: Term) => void): void {
  allTerms(fn).body(body);
}

/** Calls fn on every term of one expression. */
export function walkExprTerms(e: Expr, fn: (t: Term) => void): void {
  allTerms(fn).body([e]);
}

/** Calls fn on each var name of a term outside closures (comprehensions) and call operators. */
export function forEachOuterVar(t: Term, fn: (name: string) => void): void {
  const v = t.value;
  switch (v.type) {
    case 'var':
      fn(v.name);
      return;
    case 'ref':
      for (const x of v.terms) forEachOuterVar(x, fn);
      return;
    case 'array':
    case 'set':
      for (const x of v.items) forEachOuterVar(x, fn);
      return;
    case 'object':
      for (const [k, x] of v.items) {
        forEachOuterVar(k, fn);
        forEachOuterVar(x, fn);
      }
      return;
    case 'call':
      for (const x of v.args) forEachOuterVar(x, fn);
      return;
    default:
      return;
  }
}

/** Walks a rule: head ref, args, key, value, body, then the else chain. */
export function walkRule(r: Rule, walk: Walker): void {
  for (let cur: Rule | undefined = r; cur; cur = cur.else) {
    const h = cur.head;
    h.ref.forEach(walk.term);
    (h.args ?? []).forEach(walk.term);
    if (h.key) walk.term(h.key);
    if (h.value) walk.term(h.value);
    walk.body(cur.body);
  }
}

/** Calls fn on every term of a rule: head ref, args, key, value, body, then the else chain. */
export function walkRuleTerms(r: Rule, fn: (t: Term) => void): void {
  walkRule(r, allTerms(fn));
}
