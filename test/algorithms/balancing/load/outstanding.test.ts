import { describe, expect, it } from 'vitest';
import { OutstandingRequests } from '../../../../src/algorithms/balancing/load/outstanding.js';
import { EndpointCarry } from '../../../../src/algorithms/balancing/load/types.js';
import { endpoints, OK } from '../_weighted-load-fixtures.js';

describe('OutstandingRequests', () => {
  it('counts attempts started and not yet ended', () => {
    const m = new OutstandingRequests();
    const carry = new EndpointCarry();
    const eps = endpoints(3);
    m.rebuild(eps, carry.next(eps));
    m.onStart(1);
    m.onStart(1);
    m.onStart(2);
    expect([m.load(0), m.load(1), m.load(2)]).toEqual([0, 2, 1]);
    m.onEnd(1, OK, 5);
    expect(m.load(1)).toBe(1);
  });

  it('never goes below 0 and ignores out-of-range indices', () => {
    const m = new OutstandingRequests();
    const eps = endpoints(2);
    m.rebuild(eps, new EndpointCarry().next(eps));
    m.onEnd(0, OK, 1);
    m.onStart(7);
    m.onEnd(-1, OK, 1);
    expect([m.load(0), m.load(1)]).toEqual([0, 0]);
  });

  it('keeps counts across a rebuild for endpoints that stay, by id', () => {
    const m = new OutstandingRequests();
    const carry = new EndpointCarry();
    const before = endpoints([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    m.rebuild(before, carry.next(before));
    m.onStart(0);
    m.onStart(2);
    m.onStart(2);
    const after = endpoints([{ id: 'c' }, { id: 'new' }, { id: 'a', health: 'unhealthy' }]);
    m.rebuild(after, carry.next(after));
    expect([m.load(0), m.load(1), m.load(2)]).toEqual([2, 0, 1]);
  });
});
