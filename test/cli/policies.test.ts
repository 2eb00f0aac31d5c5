/**
 * `meshsim policies` (src/cli/policies.ts): every balancer of the registry, every failover
 * mechanism the schema takes under mesh.failover, every retry budget kind and both
 * backoffs, each with what it follows; 80 columns wide.
 */
import { describe, expect, it } from 'vitest';
import { balancers } from '../../src/algorithms/registry.js';
import { policiesText } from '../../src/cli/policies.js';
import { cli } from './_run.js';

describe('meshsim policies', () => {
  it('lists every registered balancer, with a summary and what it follows', () => {
    const text = policiesText();
    for (const kind of balancers.keys()) expect(text).toMatch(new RegExp(`^  ${kind}\\n      \\S`, 'm'));
    expect(text.match(/^ {6}follows: /gm)?.length).toBeGreaterThanOrEqual(balancers.size + 8 + 5 + 2);
  });

  it('lists the failover mechanisms (the keys of mesh.failover), the retry budgets and the backoffs', () => {
    const text = policiesText();
    for (const key of ['timeout', 'perTryTimeout', 'retries', 'hedge', 'circuitBreaker', 'outlierDetection', 'healthCheck', 'adaptiveThrottling']) expect(text).toMatch(new RegExp(`^  ${key}$`, 'm'));
    for (const kind of ['envoy-budget', 'envoy-max-retries', 'linkerd', 'finagle', 'grpc-throttling']) expect(text).toMatch(new RegExp(`^  ${kind}$`, 'm'));
    expect(text).toMatch(/^ {2}grpc$/m);
  });

  it('prints it, exit 0, no line wider than 80 columns', async () => {
    const r = await cli('policies');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(policiesText());
    expect(r.stdout.split('\n').filter((l) => [...l].length > 80)).toEqual([]);
  });
});
