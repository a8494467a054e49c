// The contract between the policy engine and its callers (service, CLI, conformance runner).

/** One OPA result-set element: `{result: v}` for entrypoints, variable bindings for queries. */
export type ResultSet = Array<Record<string, unknown>>;

/** A loaded, evaluable policy: compiled wasm running inside @open-policy-agent/opa-wasm. */
export interface PolicyEngine {
  /** Revision of the loaded policy set (bundle manifest revision or a content hash). */
  readonly revision: string;
  /** Entrypoint names available, OPA-style slash paths such as "tether/decision". */
  readonly entrypoints: string[];
  /** Evaluates one entrypoint; throws EngineError (code eval_*) on a policy error. */
  evaluate(entrypoint: string, input: unknown): ResultSet;
  /** Replaces the base data document (data.json merged with service-owned data). */
  setData(data: unknown): void;
}
