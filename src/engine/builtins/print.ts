// OPA's internal.print, what print(a, b) compiles to with print statements on: one array operand of
// sets, one set per print argument holding its values (sets reach the host as JSON arrays). An empty
// set, an undefined argument, prints <undefined>; arguments with several values print one line per
// combination, as OPA's cross product. Strings print raw, other values as Rego text. The line goes to
// the evaluation's print sink (EvalContext.print), if any; the call itself always succeeds.
import { arr } from './errors';
import { regoString } from './sprintf';
import type { EvalContext, HostImpl } from './types';

function lines(operands: unknown[][], i: number, buf: string[], out: (line: string) => void): void {
  if (i === operands.length) return out(buf.join(' '));
  const values = operands[i];
  if (values.length === 0) {
    buf[i] = '<undefined>';
    return lines(operands, i + 1, buf, out);
  }
  for (const v of values) {
    buf[i] = typeof v === 'string' ? v : regoString(v);
    lines(operands, i + 1, buf, out);
  }
}

export const printBuiltins: Record<string, HostImpl> = {
  'internal.print': {
    arity: 1,
    usesContext: true,
    fn: (ctx, operands) => {
      const sink = (ctx as EvalContext).print;
      if (sink) lines(arr('internal.print', 1, operands).map((o) => (Array.isArray(o) ? o : [o])), 0, [], sink);
      return true;
    },
  },
};
