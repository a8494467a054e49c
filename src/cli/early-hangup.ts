// Node ends a process on SIGHUP unless a handler is installed, and `tether serve` installs its own (it
// reopens the decision log, src/server.ts) only once its store and context exist, seconds after start
// on a large store. Imported first by the CLI, so a SIGHUP in that window (logrotate's postrotate while
// Tether starts) is ignored instead of fatal; serve() removes this once its handler is in place.
const ignore = (): void => undefined;

if (process.argv[2] === 'serve') process.on('SIGHUP', ignore);

/** Removes the start-up SIGHUP guard (serve(), after installing its own handler). */
export function dropEarlyHangupGuard(): void {
  process.off('SIGHUP', ignore);
}
