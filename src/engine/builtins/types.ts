// Shape of one host built-in: JSON values in (as the SDK passes them), a JSON value out.

/** Evaluation-scoped state a built-in may read (one clock reading per evaluation, as OPA). */
export interface EvalContext {
  nowNs?: bigint;
  /** Where print(...) lines go (policies compiled with print statements); unset = dropped. */
  print?: (line: string) => void;
}

/** A host built-in: throws BuiltinError on failure; `undefined` result means undefined. */
export interface HostImpl {
  arity: number;
  fn: (...args: unknown[]) => unknown;
  /** Built-ins that read evaluation state (time.now_ns) get it as a trailing argument. */
  usesContext?: boolean;
}
