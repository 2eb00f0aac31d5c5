// A balancer of your own as a meshsim plugin: an ES module whose default export is a
// balancer definition (docs/writing-a-policy.md). Run a scenario that names its kind with
//
//   meshsim run examples/plugin/scenario.yaml --plugin examples/plugin/fewest-active.mjs
//
// The policy: draw `choices` healthy endpoints at random (with replacement), send to the
// one with the fewest requests in flight, ties to the earlier draw. It sees the world only
// through its ports (here the seeded Rng), so it runs unchanged in the simulator and its
// worker threads; test/index.test.ts property-tests this very class.
import { z } from 'zod';

export class FewestActive {
  /** @param {{ next(): number }} rng @param {number} choices */
  constructor(rng, choices) {
    this.rng = rng;
    this.choices = choices;
    /** @type {string[]} endpoint ids, by index */
    this.ids = [];
    /** @type {number[]} requests in flight, by index */
    this.active = [];
    /** @type {number[]} indices of the endpoints it may pick */
    this.healthy = [];
  }

  /**
   * The endpoint set changed (members, health, weights). Indices may shift, so the counts
   * follow each endpoint by id; a newcomer starts at 0 and a leaver's count goes with it
   * (meshsim reports no end for an attempt whose endpoint has left).
   */
  rebuild(endpoints) {
    const before = new Map(this.ids.map((id, i) => [id, this.active[i]]));
    this.ids = endpoints.map((e) => e.id);
    this.active = this.ids.map((id) => before.get(id) ?? 0);
    this.healthy = [];
    endpoints.forEach((e, i) => {
      if (e.health !== 'unhealthy') this.healthy.push(i);
    });
  }

  pick() {
    const n = this.healthy.length;
    if (n === 0) return -1;
    let best = -1;
    for (let k = 0; k < this.choices; k++) {
      const i = this.healthy[Math.floor(this.rng.next() * n)];
      if (best < 0 || this.active[i] < this.active[best]) best = i;
    }
    return best;
  }

  onStart(i) {
    this.active[i]++;
  }

  onEnd(i) {
    this.active[i]--;
  }
}

export default {
  kind: 'fewest-active',
  family: 'balancing',
  summary: 'The fewest requests in flight of `choices` random healthy endpoints (default 3).',
  follows: "No system: the example plugin of docs/writing-a-policy.md. Envoy's unweighted least-request with the same choices draws alike; weights are ignored.",
  config: z.strictObject({ choices: z.number().int().min(1).max(16).default(3) }),
  create: (config, ports) => new FewestActive(ports.rng, config.choices),
};
