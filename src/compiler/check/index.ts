// The front end's semantic checks over parsed modules, in OPA's order: declarations (compile
// errors), rule conflicts, undefined functions / arity, recursion, then built-in argument types
// (literal arguments only, constant-types.ts). Safety (unsafe vars) lives
// in safety.ts and is run by its owner. All findings are collected and returned sorted.

import type { Body, Module } from '../ast';
import type { Diagnostic } from '../diagnostics';
import { sortDiagnostics } from '../diagnostics';
import { checkConstantTypes, checkQueryConstantTypes } from './constant-types';
import { checkDeclarations } from './declarations';
import type { BuiltinArity } from './functions';
import { checkFunctions, checkQueryFunctions } from './functions';
import { buildProgram } from './program';
import { checkRecursion } from './recursion';
import { checkRuleKinds } from './rule-kinds';

export type { BuiltinArity } from './functions';
export type { Program, RuleInfo } from './program';
export { buildProgram, resolveRef, ruleLocals } from './program';
export { dependencyGraph } from './recursion';

/** Runs every front-end check over a module set; returns all diagnostics sorted by file/row/col. */
export function checkModules(modules: Module[], builtins: BuiltinArity): Diagnostic[] {
  const program = buildProgram(modules);
  const out: Diagnostic[] = [
    ...checkDeclarations(modules),
    ...checkRuleKinds(program),
    ...checkFunctions(program, builtins),
    ...checkRecursion(program),
    ...checkConstantTypes(program, builtins),
  ];
  return sortDiagnostics(out);
}

/** Checks an ad-hoc query's calls (undefined functions, arity, literal argument types) against the modules and catalog. */
export function checkQuery(body: Body, modules: Module[], builtins: BuiltinArity): Diagnostic[] {
  const program = buildProgram(modules);
  return sortDiagnostics([...checkQueryFunctions(program, body, builtins), ...checkQueryConstantTypes(program, body, builtins)]);
}
