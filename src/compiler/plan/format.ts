// A readable text dump of an ir.Policy (one statement per line, nested blocks indented), for
// debugging plans against the emitter and for `--ir` style output.

import type { Block, Operand, Policy, Stmt } from '../ir/ir';

export function formatPolicy(policy: Policy): string {
  const out: string[] = [];
  const str = (i: number): string => JSON.stringify(policy.static.strings[i]);
  const op = (o: Operand): string => (o.type === 'local' ? `l${o.value}` : o.type === 'bool' ? String(o.value) : str(o.value));
  const stmt = (s: Stmt): string => {
    switch (s.type) {
      case 'CallStmt':
        return `l${s.result} = call ${s.func}(${s.args.map(op).join(', ')})`;
      case 'DotStmt':
        return `l${s.target} = ${op(s.source)}[${op(s.key)}]`;
      case 'AssignVarStmt':
        return `l${s.target} = ${op(s.source)}`;
      case 'AssignVarOnceStmt':
        return `l${s.target} := once ${op(s.source)}`;
      case 'AssignIntStmt':
        return `l${s.target} = int ${s.value}`;
      case 'MakeNumberIntStmt':
        return `l${s.target} = number ${s.value}`;
      case 'MakeNumberRefStmt':
        return `l${s.target} = number ${policy.static.strings[s.index]}`;
      case 'EqualStmt':
        return `${op(s.a)} == ${op(s.b)}`;
      case 'NotEqualStmt':
        return `${op(s.a)} != ${op(s.b)}`;
      case 'WithStmt':
        return `with l${s.local}${s.path.map((i) => `[${str(i)}]`).join('')} = ${op(s.value)}`;
      case 'ScanStmt':
        return `scan l${s.source} key l${s.key} value l${s.value}`;
      default: {
        const fields = Object.entries(s)
          .filter(([k]) => k !== 'type' && k !== 'loc' && k !== 'block' && k !== 'blocks')
          .map(([k, v]) => {
            if (typeof v === 'object' && v !== null && 'type' in v) return `${k}=${op(v as Operand)}`;
            // Every numeric field left here names a local (target, source, object, set, array).
            return `${k}=${typeof v === 'number' && k !== 'index' && k !== 'capacity' ? `l${v}` : String(v)}`;
          });
        return `${s.type.replace(/Stmt$/, '')} ${fields.join(' ')}`.trim();
      }
    }
  };
  const block = (b: Block, indent: string): void => {
    for (const s of b.stmts) {
      out.push(indent + stmt(s));
      if (s.type === 'BlockStmt') s.blocks.forEach((x, i) => (out.push(`${indent}  block ${i}:`), block(x, `${indent}    `)));
      if (s.type === 'ScanStmt' || s.type === 'NotStmt' || s.type === 'WithStmt') block(s.block, `${indent}  `);
    }
  };
  for (const f of policy.funcs) {
    out.push(`func ${f.name}(${f.params.map((l) => `l${l}`).join(', ')}) returns l${f.return}`);
    f.blocks.forEach((b, i) => (out.push(`  block ${i}:`), block(b, '    ')));
  }
  for (const p of policy.plans) {
    out.push(`plan ${p.name}`);
    p.blocks.forEach((b, i) => (out.push(`  block ${i}:`), block(b, '    ')));
  }
  return out.join('\n');
}
