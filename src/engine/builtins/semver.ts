// semver.compare / semver.is_valid with SemVer 2.0.0 precedence, as OPA's internal/semver.
import { builtinError, str } from './errors';
import type { HostImpl } from './types';

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

interface Version {
  core: [bigint, bigint, bigint];
  pre: string[];
}

function parse(v: string): Version | undefined {
  const m = SEMVER.exec(v);
  if (!m) return undefined;
  return { core: [BigInt(m[1]), BigInt(m[2]), BigInt(m[3])], pre: m[4] ? m[4].split('.') : [] };
}

const cmp = <T>(a: T, b: T): number => (a < b ? -1 : a > b ? 1 : 0);

/** -1, 0 or 1 by SemVer precedence (build metadata ignored). */
export function compareVersions(a: Version, b: Version): number {
  for (let i = 0; i < 3; i++) {
    const c = cmp(a.core[i], b.core[i]);
    if (c) return c;
  }
  if (!a.pre.length || !b.pre.length) return a.pre.length === b.pre.length ? 0 : a.pre.length ? -1 : 1;
  for (let i = 0; i < Math.min(a.pre.length, b.pre.length); i++) {
    const x = a.pre[i];
    const y = b.pre[i];
    const xn = /^\d+$/.test(x);
    const yn = /^\d+$/.test(y);
    const c = xn && yn ? cmp(BigInt(x), BigInt(y)) : xn ? -1 : yn ? 1 : cmp(x, y);
    if (c) return c;
  }
  return cmp(a.pre.length, b.pre.length);
}

function operand(pos: number, v: unknown): Version {
  const s = str('semver.compare', pos, v);
  const parsed = parse(s);
  if (!parsed) throw builtinError('semver.compare', `operand ${pos}: string ${JSON.stringify(s)} is not a valid SemVer`);
  return parsed;
}

export const semverBuiltins: Record<string, HostImpl> = {
  'semver.compare': { arity: 2, fn: (a, b) => compareVersions(operand(1, a), operand(2, b)) },
  'semver.is_valid': { arity: 1, fn: (v) => typeof v === 'string' && parse(v) !== undefined },
};
