// Record bodies and cache probes shared by the store tests.
import { execFileSync } from 'node:child_process';
import type { StateStore } from '../../src/state/store';

export const active = (extra: object = {}) => ({ status: 'active', ...extra });
export const device = (owner: string, extra: object = {}) => ({ owner, ownership: 'corporate', enrolled: true, compliant: true, ...extra });

/** An identity's risk tier as the store reads it (from its cache, its replica, or SQLite). */
export const risk = (s: StateStore, ref: string) => s.getIdentity(ref)?.risk_tier;

/** Changes a stored row without telling the store: what a read returns afterwards shows where it came from. */
export const editBehindTheStore = (s: StateStore, id: string) =>
  s.db.prepare(`UPDATE identities SET body = json_set(body, '$.risk_tier', 'edited') WHERE id = ?`).run(id);

/** Bytes of a file held in the OS page cache, as fincore (util-linux) reports them. */
export const cachedBytes = (file: string) =>
  Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', file], { encoding: 'utf8' }).trim());

/** A test of Linux-only behaviour (posix_fadvise, fincore); skipped and reported as such elsewhere. */
export const linuxTest = process.platform === 'linux' ? test : test.skip;
