// Hot reload: serves the last good engine while recompiling a policy directory (or re-reading a
// bundle) on demand or on file changes; a failed reload keeps the old engine and reports why.
// Once an engine serves, recompiling happens on a worker thread: decisions go on meanwhile.
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { readBundle } from './bundle';
import { loadEngine, type WasmEngine } from './engine';
import { EngineError } from './errors';
import { loadPolicySources, policyRevision, prepareEngine, type DirLoadOptions } from './loader';
import { collectSources } from './sources';
import type { PolicyEngine } from './types';

export interface ReloaderOptions extends DirLoadOptions {
  /** A policy directory (compiled with Tether's compiler)… */
  dir?: string;
  /** …or an OPA bundle (.tar.gz) file. */
  bundle?: string;
  /**
   * Entrypoints the policies must define (e.g. tether/decision). A reload without one fails and keeps the
   * previous engine serving; a first load without one still loads (nothing else could serve) but reports
   * ok: false with an entrypoint_not_found error.
   */
  requiredEntrypoints?: string[];
}

export interface ReloadResult {
  ok: boolean;
  revision?: string;
  error?: EngineError;
  ms: number;
  /** Warm-up evaluations on the worker thread before the swap (reloads; absent for the first load). */
  warmed?: { evaluations: number; ms: number };
  /** The sources are those of the serving engine: nothing was compiled or swapped. */
  unchanged?: boolean;
}

/** Holds the serving engine; satisfies the decider's EngineSource (current(), baseData()). */
export class PolicyReloader {
  private engine: WasmEngine | undefined;
  private data: unknown = {};
  private pending: Promise<ReloadResult> | undefined;
  private files: string[] = [];
  /** policyRevision() of the directory sources the serving engine was built from (unset for a bundle). */
  private sourceRevision: string | undefined;
  lastError: EngineError | undefined;

  constructor(private readonly opts: ReloaderOptions) {
    if (!opts.dir === !opts.bundle) throw new EngineError('bundle_not_found', 'PolicyReloader needs exactly one of dir or bundle');
  }

  /** The engine serving now (undefined until the first successful load). */
  current(): PolicyEngine | undefined {
    return this.engine;
  }

  /** The policy files the serving engine was built from (the bundle file for a bundle). */
  modules(): string[] {
    return this.files;
  }

  /** The policies' base data document (data.json files / bundle data). */
  baseData(): unknown {
    return this.data;
  }

  /** Loads again; concurrent calls share one load. The old engine keeps serving on failure. */
  reload(): Promise<ReloadResult> {
    if (!this.pending) this.pending = this.load().finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async load(): Promise<ReloadResult> {
    const t0 = performance.now();
    try {
      let engine: WasmEngine;
      let data: unknown;
      let warmed: ReloadResult['warmed'];
      let files: string[];
      let sourceRevision: string | undefined;
      // The first load runs inline: nothing is serving yet, and it is quicker without a worker to start.
      const offThread = this.engine ? (this.opts.offThread ?? true) : false;
      if (this.opts.dir) {
        const src = collectSources([this.opts.dir]);
        sourceRevision = policyRevision(src);
        // Nothing that makes a revision changed (a file touched or saved unchanged, an editor's swap file, a
        // broken edit reverted): the serving engine was built from these sources, so there is nothing to build.
        // Compared on the sources, not engine.revision, which a fixed `revision` option would pin.
        if (this.engine && src.files.length && sourceRevision === this.sourceRevision) {
          this.lastError = undefined;
          return { ok: true, revision: this.engine.revision, ms: performance.now() - t0, unchanged: true };
        }
        ({ engine, data, warmed } = await loadPolicySources(src, this.opts.dir, { ...this.opts, offThread, revision: this.opts.revision ?? sourceRevision }));
        files = src.files.map((f) => f.name);
      } else {
        let bytes: Buffer;
        try {
          bytes = readFileSync(this.opts.bundle!);
        } catch (e) {
          throw new EngineError('bundle_not_found', `cannot read bundle ${this.opts.bundle}: ${(e as Error).message}`);
        }
        const b = readBundle(bytes);
        data = b.data;
        const engineData = this.opts.data ?? b.data;
        const prepared = offThread ? await prepareEngine({ wasm: b.wasm, data: engineData, samples: this.opts.warmup?.(b.data) }, { ...this.opts, offThread }) : undefined;
        warmed = prepared?.warmed;
        engine = loadEngine(b.wasm, { ...this.opts, revision: b.manifest.revision || undefined, data: engineData, module: prepared?.module });
        files = [this.opts.bundle!];
      }
      const missing = (this.opts.requiredEntrypoints ?? []).filter((e) => !engine.entrypoints.includes(e));
      const missingError = missing.length
        ? new EngineError(
            'entrypoint_not_found',
            `${this.opts.dir ? `policies in ${this.opts.dir}` : `bundle ${this.opts.bundle}`} define no ${missing.join(', ')} entrypoint (have: ${engine.entrypoints.join(', ') || 'none'})`,
            [],
          )
        : undefined;
      if (missingError && this.engine) throw missingError;
      this.engine = engine;
      this.files = files;
      // Not remembered when incomplete, so the same sources are looked at again on the next reload.
      this.sourceRevision = missingError ? undefined : sourceRevision;
      this.data = data;
      this.lastError = missingError;
      if (missingError) return { ok: false, error: missingError, revision: engine.revision, ms: performance.now() - t0 };
      return { ok: true, revision: engine.revision, ms: performance.now() - t0, ...(warmed && { warmed }) };
    } catch (e) {
      const err = e instanceof EngineError ? e : new EngineError('compile_error', (e as Error).message ?? String(e));
      this.lastError = err;
      return { ok: false, error: err, ms: performance.now() - t0 };
    }
  }

  /** Reloads when files under the directory (or the bundle file) change; returns a stop function. */
  watch(onReload: (r: ReloadResult) => void = () => undefined, debounceMs = 200): () => void {
    const target = this.opts.dir ?? this.opts.bundle!;
    let timer: NodeJS.Timeout | undefined;
    const watcher: FSWatcher = watch(target, { recursive: !!this.opts.dir }, () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => void this.reload().then(onReload), debounceMs);
    });
    // The watched directory removed (or unreadable) later: the engine keeps serving; without a listener the
    // watcher's 'error' event would end the process.
    watcher.on('error', () => undefined);
    return () => {
      if (timer) clearTimeout(timer);
      watcher.close();
    };
  }
}
