import { cpuTicks, parseProcStat, stealPct, stealShare, withSteal } from '../../bench/lib/host-steal';

// The first lines of /proc/stat on the benchmark VM (2 vCPUs): user nice system idle iowait irq softirq steal guest guest_nice.
const SAMPLE = [
  'cpu  3971087 26447 600561 6074331 122657 0 107278 338432 0 0',
  'cpu0 1619433 12790 223706 3568763 11628 0 36325 162698 0 0',
  'cpu1 2351653 13657 376854 2505567 111029 0 70953 175734 0 0',
  'intr 1 2 3',
].join('\n');

describe('host steal from /proc/stat', () => {
  it('reads the aggregate cpu line: steal is the eighth column, the total sums the first eight', () => {
    expect(parseProcStat(SAMPLE)).toEqual({ steal: 338432, total: 3971087 + 26447 + 600561 + 6074331 + 122657 + 0 + 107278 + 338432 });
  });

  it('has no reading for text without an aggregate cpu line or without a steal column', () => {
    expect(parseProcStat('cpu0 1 2 3 4 5 6 7 8\n')).toBeUndefined();
    expect(parseProcStat('cpu  1 2 3 4 5 6 7\n')).toBeUndefined();
    expect(parseProcStat('')).toBeUndefined();
  });

  it('is the stolen share of all CPU time between two readings', () => {
    // 10 s on 2 vCPUs at 100 ticks/s: 2,000 ticks, 30 of them stolen.
    expect(stealShare({ steal: 100, total: 10_000 }, { steal: 130, total: 12_000 })).toBeCloseTo(0.015, 10);
    expect(stealShare({ steal: 100, total: 10_000 }, { steal: 100, total: 12_000 })).toBe(0);
  });

  it('is unknown (NaN, shown as "-") when a reading is missing or time did not advance', () => {
    expect(stealShare(undefined, { steal: 1, total: 2 })).toBeNaN();
    expect(stealShare({ steal: 1, total: 2 }, { steal: 1, total: 2 })).toBeNaN();
    expect(stealPct(NaN)).toBe('-');
    expect(stealPct(0.0125)).toBe('1.25%');
  });

  it('measures around an asynchronous step on this machine', async () => {
    const { value, steal } = await withSteal(async () => {
      await new Promise((r) => setTimeout(r, 30));
      return 'done';
    });
    expect(value).toBe('done');
    if (cpuTicks()) {
      expect(steal).toBeGreaterThanOrEqual(0);
      expect(steal).toBeLessThanOrEqual(1);
    } else expect(steal).toBeNaN();
  });
});
