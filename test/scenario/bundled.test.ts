/**
 * Every scenario shipped under scenarios/ loads (schema, variants, sweeps, membership and
 * faults resolved), and the fidelity scenarios keep their live side within the issue's
 * ≤ 30 s each (every variant runs live for its duration plus drain).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../src/scenario/load.js';

const ROOT = join(import.meta.dirname, '..', '..', 'scenarios');
const files = readdirSync(ROOT, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.yaml'))
  .sort();

describe('bundled scenarios', () => {
  it('there are some, in every family folder', () => {
    expect(files).toContain('quickstart.yaml');
    for (const dir of ['balancing', 'failover', 'fidelity']) expect(files.some((f) => f.startsWith(`${dir}/`))).toBe(true);
  });

  it.each(files)('%s loads', (file) => {
    const loaded = loadScenario(join(ROOT, file));
    expect(loaded.variants.length).toBeGreaterThan(0);
  });

  it.each(files.filter((f) => f.startsWith('fidelity/')))('%s runs live in ≤ 30 s', (file) => {
    const loaded = loadScenario(join(ROOT, file));
    const seconds = loaded.variants.reduce((a, v) => a + (v.scenario.duration + v.scenario.drain) / 1000, 0);
    expect(seconds).toBeLessThanOrEqual(30);
  });
});
