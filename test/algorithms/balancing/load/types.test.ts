import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { carryFloat64, carryInt32, EndpointCarry } from '../../../../src/algorithms/balancing/load/types.js';
import { endpoints } from '../_weighted-load-fixtures.js';

describe('EndpointCarry', () => {
  it('maps each endpoint to its previous index by id, -1 for newcomers', () => {
    const carry = new EndpointCarry();
    expect([...carry.next(endpoints([{ id: 'a' }, { id: 'b' }, { id: 'c' }]))]).toEqual([-1, -1, -1]);
    expect([...carry.next(endpoints([{ id: 'c' }, { id: 'd' }, { id: 'a' }]))]).toEqual([2, -1, 0]);
    // Always relative to the array just before.
    expect([...carry.next(endpoints([{ id: 'a' }, { id: 'b' }]))]).toEqual([2, -1]);
    expect([...carry.next([])]).toEqual([]);
    expect([...carry.next(endpoints([{ id: 'a' }]))]).toEqual([-1]);
  });

  it('is not fooled by a caller reusing its array: a mutable one is copied, a frozen one kept', () => {
    const carry = new EndpointCarry();
    const list = endpoints([{ id: 'a' }, { id: 'b' }]);
    carry.next(list);
    list[0] = endpoints([{ id: 'z' }])[0]; // the caller edits the array it passed before
    expect([...carry.next(endpoints([{ id: 'b' }, { id: 'a' }]))]).toEqual([1, 0]);
    // A frozen array cannot change, so it is kept as it is and works the same.
    const frozen = Object.freeze(endpoints([{ id: 'x' }, { id: 'y' }]));
    carry.next(frozen);
    expect([...carry.next(endpoints([{ id: 'y' }, { id: 'q' }, { id: 'x' }]))]).toEqual([1, -1, 0]);
  });

  it('carries typed arrays by the map, filling newcomers', () => {
    const map = new Int32Array([2, -1, 0]);
    expect([...carryInt32(new Int32Array([5, 6, 7]), map, 0)]).toEqual([7, 0, 5]);
    expect([...carryFloat64(new Float64Array([0.5, 1.5, 2.5]), map, 30)]).toEqual([2.5, 30, 0.5]);
  });
});

describe('EndpointCarry against a map of ids (property)', () => {
  it('gives every endpoint its previous index by id, whatever joins, leaves or moves', () => {
    const ep = (id: string) => ({ id, address: id, zone: 'z', weight: 1, health: 'healthy' as const, priority: 0, metadata: {} });
    // Sequences of unique id lists: each step keeps, drops, adds and sometimes shuffles ids.
    const lists = fc.array(fc.uniqueArray(fc.integer({ min: 0, max: 40 }), { maxLength: 30 }), { minLength: 1, maxLength: 8 });
    fc.assert(
      fc.property(lists, (steps) => {
        const carry = new EndpointCarry();
        let prev: number[] = [];
        for (const ids of steps) {
          const got = carry.next(ids.map((i) => ep(`e${i}`)));
          const want = ids.map((i) => prev.indexOf(i));
          if (Array.from(got).join() !== want.join()) return false;
          prev = ids;
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });

  it('also when each list is a small edit of the one before (the in-step walk and its lookups)', () => {
    const ep = (id: string) => ({ id, address: id, zone: 'z', weight: 1, health: 'healthy' as const, priority: 0, metadata: {} });
    // An edit: remove a run of ids, insert fresh ones at a position, or swap two positions.
    const edit = fc.oneof(
      fc.record({ op: fc.constant('remove' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ op: fc.constant('insert' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ op: fc.constant('swap' as const), at: fc.nat(), len: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 30 }), fc.array(fc.array(edit, { maxLength: 3 }), { minLength: 1, maxLength: 8 }), (size, steps) => {
        const carry = new EndpointCarry();
        let fresh = size;
        let prev = Array.from({ length: size }, (_, i) => i);
        carry.next(prev.map((i) => ep(`e${i}`)));
        for (const edits of steps) {
          const ids = prev.slice();
          for (const e of edits) {
            const at = ids.length === 0 ? 0 : e.at % (ids.length + 1);
            if (e.op === 'remove') ids.splice(at, e.len);
            else if (e.op === 'insert') ids.splice(at, 0, ...Array.from({ length: e.len }, () => fresh++));
            else if (ids.length > 1) {
              const a = at % ids.length;
              const b = e.len % ids.length;
              [ids[a], ids[b]] = [ids[b], ids[a]];
            }
          }
          const got = carry.next(ids.map((i) => ep(`e${i}`)));
          const want = ids.map((i) => prev.indexOf(i));
          if (Array.from(got).join() !== want.join()) return false;
          prev = ids;
        }
        return true;
      }),
      { numRuns: 500 },
    );
  });
});
