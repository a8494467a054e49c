// net.cidr_contains and friends over IPv4/IPv6, as OPA (Go's net.ParseCIDR / net.ParseIP).
import { builtinError, str } from './errors';
import type { HostImpl } from './types';

interface Net {
  bits: 32 | 128;
  addr: bigint;
  prefix: number;
}

function parseV4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p[0] === '0')) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseV6(s: string): bigint | undefined {
  let head = s;
  let tailV4: bigint | undefined;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    tailV4 = parseV4(s.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    head = s.slice(0, lastColon + 1) + '0:0';
  }
  const dbl = head.split('::');
  if (dbl.length > 2) return undefined;
  const left = dbl[0] ? dbl[0].split(':') : [];
  const right = dbl.length === 2 && dbl[1] ? dbl[1].split(':') : [];
  const groups = left.length + right.length;
  if (dbl.length === 1 ? groups !== 8 : groups > 7) return undefined;
  const all = [...left, ...Array(8 - groups).fill('0'), ...right];
  let v = 0n;
  for (const g of all) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  if (tailV4 !== undefined) v = (v & ~0xffffffffn) | tailV4;
  return v;
}

/** An IP address; IPv4-mapped IPv6 addresses compare as IPv4, as Go does. */
function parseIP(s: string): { bits: 32 | 128; addr: bigint } | undefined {
  const v4 = parseV4(s);
  if (v4 !== undefined) return { bits: 32, addr: v4 };
  const v6 = parseV6(s);
  if (v6 === undefined) return undefined;
  if (v6 >> 32n === 0xffffn) return { bits: 32, addr: v6 & 0xffffffffn };
  return { bits: 128, addr: v6 };
}

function parseCIDR(s: string): Net | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIP(s.slice(0, slash));
  const p = s.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(p)) return undefined;
  const isV4Text = parseV4(s.slice(0, slash)) !== undefined;
  const bits = isV4Text ? 32 : 128;
  const prefix = Number(p);
  if (prefix > bits) return undefined;
  const addr = bits === 128 && ip.bits === 32 ? (0xffffn << 32n) | ip.addr : ip.addr;
  const mask = ((1n << BigInt(bits)) - 1n) ^ ((1n << BigInt(bits - prefix)) - 1n);
  return { bits, addr: addr & mask, prefix };
}

const toV6 = (n: { bits: number; addr: bigint }): bigint => (n.bits === 32 ? (0xffffn << 32n) | n.addr : n.addr);

function contains(net: Net, addr: { bits: number; addr: bigint }): boolean {
  const a = net.bits === 32 && addr.bits === 32 ? addr.addr : toV6(addr);
  const base = net.bits === 32 && addr.bits === 32 ? net.addr : toV6(net);
  const width = net.bits === 32 && addr.bits === 32 ? 32 : 128;
  const prefix = width === 128 && net.bits === 32 ? net.prefix + 96 : net.prefix;
  const mask = ((1n << BigInt(width)) - 1n) ^ ((1n << BigInt(width - prefix)) - 1n);
  return (a & mask) === base;
}

function cidr(name: string, pos: number, v: unknown): Net {
  const s = str(name, pos, v);
  const n = parseCIDR(s);
  if (!n) throw builtinError(name, `invalid CIDR address: ${s}`);
  return n;
}

function cidrContains(a: unknown, b: unknown): boolean {
  const net = cidr('net.cidr_contains', 1, a);
  const s = str('net.cidr_contains', 2, b);
  const ip = parseIP(s);
  if (ip) return contains(net, ip);
  const inner = parseCIDR(s);
  if (!inner) throw builtinError('net.cidr_contains', `invalid CIDR address: ${s}`);
  if (inner.bits === net.bits && inner.prefix < net.prefix) return false;
  const last = inner.addr | ((1n << BigInt(inner.bits - inner.prefix)) - 1n);
  return contains(net, inner) && contains(net, { bits: inner.bits, addr: last });
}

export const netBuiltins: Record<string, HostImpl> = {
  'net.cidr_contains': { arity: 2, fn: cidrContains },
  'net.cidr_intersects': {
    arity: 2,
    fn: (a, b) => {
      const x = cidr('net.cidr_intersects', 1, a);
      const y = cidr('net.cidr_intersects', 2, b);
      return contains(x, y) || contains(y, x);
    },
  },
  'net.cidr_is_valid': { arity: 1, fn: (a) => typeof a === 'string' && parseCIDR(a) !== undefined },
};
