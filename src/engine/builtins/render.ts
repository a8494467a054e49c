// The built-ins that render Rego values as text, as OPA does: strings raw, everything else as Rego
// text (sets reach the host as JSON arrays, so a set value renders as an array), `<undefined>` for an
// expression without a value. Both take their expressions wrapped in sets by the compiler, so an
// undefined one arrives as an empty set instead of making the call undefined.
//
// - internal.print: print(a, b) compiled with print statements on. One line per combination of the
//   arguments' values (OPA's cross product) goes to the evaluation's print sink (EvalContext.print),
//   if any; the call always succeeds.
// - internal.template_string: $"a {x} b". Text parts are strings, placeholders sets; a placeholder
//   with several values is an error (OPA: "template-strings must not produce multiple outputs").
import { arr, BuiltinError } from './errors';
import { regoString } from './sprintf';
import type { EvalContext, HostImpl } from './types';

const UNDEFINED = '<undefined>';

const render = (v: unknown): string => (typeof v === 'string' ? v : regoString(v));

function lines(operands: unknown[][], i: number, buf: string[], out: (line: string) => void): void {
  if (i === operands.length) return out(buf.join(' '));
  const values = operands[i];
  if (values.length === 0) {
    buf[i] = UNDEFINED;
    return lines(operands, i + 1, buf, out);
  }
  for (const v of values) {
    buf[i] = render(v);
    lines(operands, i + 1, buf, out);
  }
}

function templateString(parts: unknown): string {
  let s = '';
  for (const p of arr('internal.template_string', 1, parts)) {
    if (typeof p === 'string') s += p;
    else if (!Array.isArray(p)) s += render(p);
    else if (p.length === 0) s += UNDEFINED;
    else if (p.length === 1) s += render(p[0]);
    else throw new BuiltinError('eval_builtin_error', 'internal.template_string: template-strings must not produce multiple outputs', true);
  }
  return s;
}

export const renderBuiltins: Record<string, HostImpl> = {
  'internal.print': {
    arity: 1,
    usesContext: true,
    fn: (ctx, operands) => {
      const sink = (ctx as EvalContext).print;
      if (sink) lines(arr('internal.print', 1, operands).map((o) => (Array.isArray(o) ? o : [o])), 0, [], sink);
      return true;
    },
  },
  'internal.template_string': { arity: 1, fn: templateString },
};
