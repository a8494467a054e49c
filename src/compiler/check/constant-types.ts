// OPA's compile-time type check, restricted to what needs no inference: a built-in call (infix
// operators included: `1 + "a"` is plus(1, "a")) with a LITERAL argument (scalar, or a composite of
// literals only) whose type cannot satisfy the declared parameter type is a rego_type_error, with
// OPA's message and have/want lines. Vars, refs, calls and comprehensions are never judged (OPA
// infers their types; we do not), nor are built-ins without a declaration: a false error on a valid
// policy is worse than a missed one.

import { isLiteral, walker, type Body, type Module, type Term, type Walker, type With } from '../ast';
import type { Diagnostic } from '../diagnostics';
import { diagnosticAt } from '../diagnostics';
import { WASM_ARG_TYPES, type BuiltinDecl, type OpaType } from '../builtins/arg-types';
import { HOST_ARG_TYPES } from '../builtins/host-arg-types';
import type { BuiltinArity } from './functions';
import type { Program } from './program';
import { groundNames, resolveRef, ruleLocals, walkRule } from './program';

const own = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/** A built-in's declaration, or undefined when it is not type-checked. */
export function builtinDecl(name: string): BuiltinDecl | undefined {
  return own(WASM_ARG_TYPES, name) ? WASM_ARG_TYPES[name] : own(HOST_ARG_TYPES, name) ? HOST_ARG_TYPES[name] : undefined;
}

/** Reports built-in calls with a literal argument of the wrong type, in every rule. */
export function checkConstantTypes(p: Program, builtins: BuiltinArity): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const info of p.rules) {
    const v = callVisitor(p, info.module, ruleLocals(info.rule), builtins, out);
    walkRule(info.rule, v);
  }
  return out;
}

/** The same check over an ad-hoc query. */
export function checkQueryConstantTypes(p: Program, body: Body, builtins: BuiltinArity): Diagnostic[] {
  const out: Diagnostic[] = [];
  callVisitor(p, undefined, new Set(), builtins, out).body(body);
  return out;
}

function callVisitor(p: Program, module: Module | undefined, locals: Set<string>, builtins: BuiltinArity, out: Diagnostic[]): Walker {
  // The name a call's operator spells when it is not a user function (nor resolves to data).
  const plainName = (op: Term): string | undefined => {
    const terms = op.value.type === 'ref' ? op.value.terms : [op];
    const head = terms[0]?.value;
    if (head?.type === 'var' && head.name === 'data') return undefined;
    if (module && resolveRef(p, module, terms, locals)) return undefined;
    const names = groundNames(terms);
    return names.length === terms.length ? names.join('.') : undefined;
  };
  const visit = (op: Term, args: Term[], exprLevel: boolean, loc: Term['loc'], walk: Walker): true => {
    const name = plainName(op);
    // OPA drops print() calls (unless print is enabled): what is inside them is never type-checked.
    if (name === 'print' || name === 'internal.print') return true;
    // Unknown names are check/functions.ts's to report.
    const decl = name && builtins(name) !== undefined ? builtinDecl(name) : undefined;
    if (name && decl) {
      const n = decl.args.length;
      // Wrong arity is reported by check/functions.ts; an extra expression-level argument is the output.
      const arityOk = args.length === n || (exprLevel && args.length === n + 1);
      const bad = arityOk && args.slice(0, n).some((a, i) => isLiteral(a) && !fits(a, decl.args[i]));
      if (bad) out.push(diagnosticAt('rego_type_error', loc, argError(name, decl, args, exprLevel)));
    }
    args.forEach(walk.term);
    return true;
  };
  return walker({
    bindings: false,
    term: (t, walk) => (t.value.type === 'call' ? visit(t.value.operator, t.value.args, false, t.loc, walk) : false),
    expr: (e, walk) => {
      if (e.kind !== 'call') return false;
      // `with count as f` replaces a function: the replaced call is not judged by its declaration.
      if (e.with.some(mocksFunction)) return true;
      return visit(e.operator, e.args, true, e.loc, walk);
    },
  });
}

function mocksFunction(w: With): boolean {
  const t = w.target.value.type === 'ref' ? w.target.value.terms[0]?.value : w.target.value;
  return !(t?.type === 'var' && (t.name === 'input' || t.name === 'data'));
}

/**
 * OPA's ArgErrDetail: have lists the operands (a nested call's output is the untyped `???`; other
 * non-literals print as `any`, where OPA would print the type it inferred), want adds the result.
 */
function argError(name: string, decl: BuiltinDecl, args: Term[], exprLevel: boolean): string {
  const n = decl.args.length;
  const have = args.map((a, i) => (isLiteral(a) ? typeString(typeOf(a)) : i < n ? 'any' : '???'));
  if (!exprLevel) have.push('???');
  const want = [...decl.args, ...(decl.result ? [decl.result] : [])].map(typeString);
  return `${name}: invalid argument(s)\n\thave: (${have.join(', ')})\n\twant: (${want.join(', ')})`;
}

/** OPA's unify1 for a constant term against a declared type (v1/ast/check.go). */
export function fits(t: Term, ty: OpaType): boolean {
  if (ty.type === 'any') return !ty.of?.length || ty.of.some((o) => fits(t, o));
  const v = t.value;
  switch (v.type) {
    case 'array': {
      if (ty.type !== 'array') return false;
      const fixed = ty.static ?? [];
      if (!ty.dynamic && v.items.length !== fixed.length) return false;
      return v.items.every((x, i) => fits(x, fixed[i] ?? ty.dynamic!));
    }
    case 'set':
      return ty.type === 'set' && v.items.every((x) => fits(x, ty.of));
    case 'object':
      if (ty.type !== 'object') return false;
      // Declarations with static keys (none today) or no dynamic part: not judged.
      if (ty.static?.length || !ty.dynamic) return true;
      return v.items.every(([k, x]) => keyFits(k, ty.dynamic!.key) && fits(x, ty.dynamic!.value));
    default:
      return ty.type === v.type;
  }
}

// types.Contains(dynamic key type, type of a constant key); composite keys are not judged.
function keyFits(k: Term, kt: OpaType): boolean {
  const kind = k.value.type;
  if (kind !== 'null' && kind !== 'boolean' && kind !== 'number' && kind !== 'string') return true;
  if (kt.type === 'any') return !kt.of?.length || kt.of.some((o) => o.type === kind);
  return kt.type === kind;
}

const ORDER = ['null', 'boolean', 'number', 'string', 'array', 'object', 'set', 'any'];

/** A constant's type as OPA's TypeEnv.GetByValue gives it (only for the have line). */
function typeOf(t: Term): OpaType {
  const v = t.value;
  switch (v.type) {
    case 'array':
      return v.items.length ? { type: 'array', static: v.items.map(typeOf) } : { type: 'array', dynamic: { type: 'any' } };
    case 'set': {
      const seen = new Map<string, OpaType>();
      for (const x of v.items.map(typeOf)) seen.set(typeString(x), x);
      const of = [...seen.values()].sort((a, b) => ORDER.indexOf(a.type) - ORDER.indexOf(b.type));
      return { type: 'set', of: of.length === 1 ? of[0] : of.length ? { type: 'any', of } : { type: 'any' } };
    }
    case 'object': {
      if (!v.items.length) return { type: 'object', dynamic: { key: { type: 'any' }, value: { type: 'any' } } };
      const props = v.items.map(([k, x]) => ({ key: k.value, value: typeOf(x) })).sort((a, b) => keyOrder(a.key, b.key));
      return { type: 'object', static: props.map((p) => ({ key: keyText(p.key), value: p.value })) };
    }
    case 'null':
    case 'boolean':
    case 'number':
    case 'string':
      return { type: v.type };
    default:
      return { type: 'any' };
  }
}

type KeyValue = Term['value'];
const keyText = (k: KeyValue): string =>
  k.type === 'string' ? k.value : k.type === 'number' ? k.text : k.type === 'boolean' ? String(k.value) : k.type === 'null' ? '<nil>' : k.type;
const keyOrder = (a: KeyValue, b: KeyValue): number =>
  ORDER.indexOf(a.type) - ORDER.indexOf(b.type) ||
  (a.type === 'number' && b.type === 'number' ? Number(a.text) - Number(b.text) : keyText(a) < keyText(b) ? -1 : keyText(a) > keyText(b) ? 1 : 0);

/** OPA's types.Sprint. */
export function typeString(t: OpaType): string {
  switch (t.type) {
    case 'any':
      return t.of?.length ? `any<${t.of.map(typeString).join(', ')}>` : 'any';
    case 'array':
      return `array${t.static?.length ? `<${t.static.map(typeString).join(', ')}>` : ''}${t.dynamic ? `[${typeString(t.dynamic)}]` : ''}`;
    case 'object': {
      const fixed = t.static?.length ? `<${t.static.map((p) => `${String(p.key)}: ${typeString(p.value)}`).join(', ')}>` : '';
      return `object${fixed}${t.dynamic ? `[${typeString(t.dynamic.key)}: ${typeString(t.dynamic.value)}]` : ''}`;
    }
    case 'set':
      return `set[${typeString(t.of)}]`;
    default:
      return t.type;
  }
}
