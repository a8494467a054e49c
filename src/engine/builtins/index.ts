// The host built-in registry handed to the SDK as customBuiltins: OPA's error policy (errors make
// the call undefined unless strict) and one time.now_ns reading per evaluation.
import { BuiltinError } from './errors';
import { collectionBuiltins } from './collections';
import { encodingBuiltins } from './encoding';
import { goTimeBuiltins } from './go-time';
import { jsonPathBuiltins } from './json-paths';
import { matchBuiltins } from './match';
import { netBuiltins } from './net';
import { renderBuiltins } from './render';
import { semverBuiltins } from './semver';
import { sprintf } from './sprintf';
import { stringBuiltins } from './strings';
import { timeBuiltins } from './time';
import type { EvalContext, HostImpl } from './types';
import { bigintSeen, hasBigint, stringifyExact } from '../exact-json';
import { rawJson } from './raw';
import { HOST_ALIASES } from '../../compiler/builtins/host-decls';

export { BuiltinError } from './errors';
export type { EvalContext, HostImpl } from './types';

/** Every host built-in Tether implements, by Rego name. */
export const HOST_BUILTINS: Readonly<Record<string, HostImpl>> = {
  ...stringBuiltins,
  ...matchBuiltins,
  ...timeBuiltins,
  ...goTimeBuiltins,
  ...semverBuiltins,
  ...netBuiltins,
  ...encodingBuiltins,
  ...collectionBuiltins,
  ...jsonPathBuiltins,
  ...renderBuiltins,
  sprintf: { arity: 2, fn: sprintf },
};

/** Implementations by the name the SDK sees (aliases for the ones the SDK itself shadows). */
const BY_SDK_NAME: Record<string, HostImpl> = { ...HOST_BUILTINS };
for (const [name, alias] of Object.entries(HOST_ALIASES)) if (HOST_BUILTINS[name]) BY_SDK_NAME[alias] = HOST_BUILTINS[name];

export interface HostBuiltinOptions {
  /** OPA's strict built-in errors: raise instead of making the call undefined. */
  strict?: boolean;
  /** Shared per-evaluation state; the engine clears it before each evaluate(). */
  context?: EvalContext;
}

/** The last built-in error swallowed in non-strict mode (for diagnostics, never for results). */
export interface HostBuiltinSet {
  builtins: Record<string, (...args: unknown[]) => unknown>;
  context: EvalContext;
}

/** Builds the SDK customBuiltins map over HOST_BUILTINS. */
export function makeHostBuiltins(opts: HostBuiltinOptions = {}): HostBuiltinSet {
  const context = opts.context ?? {};
  const builtins: Record<string, (...args: unknown[]) => unknown> = {};
  for (const [name, impl] of Object.entries(BY_SDK_NAME)) {
    builtins[name] = (...args: unknown[]) => {
      try {
        const out = impl.usesContext ? impl.fn(context, ...args) : impl.fn(...args);
        // A result carrying big integers (passed through from exact operands) goes back as exact JSON text.
        return bigintSeen() && !(out instanceof ArrayBuffer) && hasBigint(out) ? rawJson(stringifyExact(out)) : out;
      } catch (e) {
        if (e instanceof BuiltinError && !opts.strict && !e.halt) return undefined;
        throw e;
      }
    };
  }
  return { builtins, context };
}

/** Calls one host built-in directly (tests, the CLI): strict, so errors surface. */
export function callHostBuiltin(name: string, args: unknown[], context: EvalContext = {}): unknown {
  const impl = HOST_BUILTINS[name];
  if (!impl) throw new Error(`unknown host built-in ${name}`);
  return impl.usesContext ? impl.fn(context, ...args) : impl.fn(...args);
}
