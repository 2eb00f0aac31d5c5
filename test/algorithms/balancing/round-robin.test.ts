import { describe, expect, it } from 'vitest';
import { roundRobin } from '../../../src/algorithms/balancing/round-robin.js';
import { soloEnvironment } from '../../../src/algorithms/types.js';
import type { Ports } from '../../../src/core/ports.js';
import { counts, endpoints, randomStartProperty, testWorld } from './_weighted-load-fixtures.js';

const make = (ports: Ports) => roundRobin.create(roundRobin.config.parse({}), ports, soloEnvironment());

describe('round-robin', () => {
  it('cycles through the healthy endpoints in order from a random start', () => {
    const lb = make(testWorld(3).ports);
    lb.rebuild(endpoints([{}, { health: 'unhealthy' }, {}, {}]));
    const picks = Array.from({ length: 6 }, () => lb.pick({}));
    const healthy = [0, 2, 3];
    const start = healthy.indexOf(picks[0]);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(picks).toEqual(Array.from({ length: 6 }, (_, k) => healthy[(start + k) % 3]));
  });

  randomStartProperty(make);

  it('keeps its index across rebuilds, as Envoy keeps rr_indexes_', () => {
    const lb = make(testWorld(5).ports);
    lb.rebuild(endpoints(4));
    const first = lb.pick({});
    lb.rebuild(endpoints(4));
    expect(lb.pick({})).toBe((first + 1) % 4);
    lb.rebuild(endpoints(4));
    expect(lb.pick({})).toBe((first + 2) % 4);
  });

  it('serves exact 1/n shares even when the endpoint set is rebuilt every two picks', () => {
    // A rebuild per health change, ejection or slow-start refresh must not skew the shares:
    // with a start redrawn at every rebuild, 16 picks over 4 endpoints came out [6, 6, 2, 2].
    for (let seed = 0; seed < 20; seed++) {
      const lb = make(testWorld(seed).ports);
      const picks: number[] = [];
      for (let k = 0; k < 400; k++) {
        if (k % 2 === 0) lb.rebuild(endpoints(4));
        picks.push(lb.pick({}));
      }
      expect(counts(picks, 4)).toEqual([100, 100, 100, 100]);
    }
  });

  it('answers -1 with no healthy endpoint and starts from a random point once one appears', () => {
    const lb = make(testWorld(9).ports);
    lb.rebuild(endpoints([{ health: 'unhealthy' }, { health: 'unhealthy' }]));
    expect(lb.pick({})).toBe(-1);
    lb.rebuild(endpoints(3));
    const picks = Array.from({ length: 3 }, () => lb.pick({}));
    expect([...picks].sort()).toEqual([0, 1, 2]);
  });
});
