// Child process of pacedLoad (./paced.ts): reads the options file named on the command line (bodies in
// base64), runs the load, and prints the outcome as JSON on stdout.
import { readFileSync } from 'node:fs';
import { pacedLoadHere, type PacedOptions, type PacedVariant } from './paced';

async function main() {
  const raw = JSON.parse(readFileSync(process.argv[2], 'utf8')) as Omit<PacedOptions, 'variants'> & { variants: Array<Omit<PacedVariant, 'body'> & { body?: string }> };
  const variants: PacedVariant[] = raw.variants.map((v) => ({ ...v, body: v.body === undefined ? undefined : Buffer.from(v.body, 'base64') }));
  const o = await pacedLoadHere({ ...raw, variants });
  process.stdout.write(JSON.stringify({ ...o, latency: Array.from(o.latency), fromSchedule: Array.from(o.fromSchedule) }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
