// Types of fewest-active.mjs, for TypeScript users of the example (test/index.test.ts).
import type { Balancer, BalancerDefinition, Endpoint, Rng } from '../../src/index.js';

export declare class FewestActive implements Balancer {
  constructor(rng: Rng, choices: number);
  rebuild(endpoints: readonly Endpoint[]): void;
  pick(): number;
  onStart(index: number): void;
  onEnd(index: number): void;
}

declare const fewestActive: BalancerDefinition<{ choices: number }>;
export default fewestActive;
