// Drops a file's pages from the OS page cache (posix_fadvise POSIX_FADV_DONTNEED). Once the resident
// replicas hold every record decisions read, the store file's cached pages only cost memory: at 1M
// identities 1.5 GB that the kernel's reclaim keeps scanning (see bench/README.md, "Scale"). SQLite keeps
// its own page cache for writes. Node has no fadvise binding; GNU dd's `iflag=nocache count=0` makes
// exactly that call for the whole file and reads nothing.
import { execFile } from 'node:child_process';

/** Resolves true when the kernel was asked to drop the file's clean pages, false when it could not be (not Linux, no GNU dd). */
export function dropFileCache(path: string): Promise<boolean> {
  if (process.platform !== 'linux') return Promise.resolve(false);
  return new Promise((resolve) => {
    execFile('dd', [`if=${path}`, 'iflag=nocache', 'count=0', 'status=none'], { timeout: 10_000 }, (err) => resolve(!err));
  });
}
