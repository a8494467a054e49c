// Rule conflict checks (OPA's checkRuleConflicts): all rules at one path must agree on kind
// (single- vs multi-value, complete vs partial) and arity; at most one default; a complete rule's
// document cannot also have rules beneath it; and a package cannot sit on top of a rule's document.

import type { Diagnostic } from '../diagnostics';
import { diagnosticAt } from '../diagnostics';
import { refToString } from '../ast';
import type { Program, RuleInfo } from './program';

function locString(info: RuleInfo): string {
  return `${info.rule.loc.file}:${info.rule.loc.row}`;
}

/** Reports conflicting rule kinds/arity, multiple defaults and path conflicts (rego_type_error). */
export function checkRuleKinds(p: Program): Diagnostic[] {
  const out: Diagnostic[] = [];
  const keys = [...p.byGround.keys()];
  for (const key of keys) {
    const infos = p.byGround.get(key)!;
    const kinds = new Set<string>();
    const arities = new Set<number>();
    let complete = 0;
    let partial = 0;
    const defaults: RuleInfo[] = [];
    let groundRule = false;
    for (const info of infos) {
      const h = info.rule.head;
      kinds.add(h.kind === 'partial_set' ? 'multi' : 'single');
      arities.add(h.args?.length ?? 0);
      if (info.rule.default) defaults.push(info);
      const isGroundRef = info.ground.length === info.path.length;
      if (h.kind !== 'partial_set' && isGroundRef && h.kind !== 'partial_object') complete++;
      else partial++;
      if (isGroundRef) groundRule = true;
    }
    const name = infos[infos.length - 1].name;
    // Rules strictly beneath this path (their ground path extends it).
    const children = groundRule
      ? keys.filter((k) => k.startsWith(key + '.')).flatMap((k) => p.byGround.get(k)!.map((c) => c.name))
      : [];
    if (children.length > 0) {
      out.push(diagnosticAt('rego_type_error', infos[0].rule.loc, `rule ${name} conflicts with [${[...new Set(children)].join(' ')}]`));
    } else if (kinds.size > 1 || arities.size > 1 || (complete >= 1 && partial >= 1)) {
      out.push(diagnosticAt('rego_type_error', infos[0].rule.loc, `conflicting rules ${name} found`));
    } else if (defaults.length > 1) {
      out.push(
        diagnosticAt(
          'rego_type_error',
          defaults[0].module.package.loc,
          `multiple default rules ${name} found at ${defaults.map(locString).join(', ')}`,
        ),
      );
    }
  }

  // A package whose path is the (ground) path of a rule in another module.
  const pkgs = new Map<string, Program['modules']>();
  for (const m of p.modules) {
    const k = refToString(m.package.path);
    const l = pkgs.get(k);
    if (l) l.push(m);
    else pkgs.set(k, [m]);
  }
  for (const info of p.rules) {
    if (info.ground.length !== info.path.length) continue;
    const child = pkgs.get(info.ground.join('.'));
    if (!child) continue;
    for (const cm of child) {
      if (cm === info.module) continue;
      const pkgName = 'package ' + refToString(cm.package.path).replace(/^data\./, '');
      out.push(
        diagnosticAt(
          'rego_type_error',
          info.module.package.loc,
          `${pkgName} conflicts with rule ${refToString(info.rule.head.ref)} defined at ${locString(info)}`,
        ),
      );
    }
  }
  return out;
}
