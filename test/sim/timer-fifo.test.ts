import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TimerFifo } from '../../src/sim/timer-fifo.js';

describe('TimerFifo', () => {
  it('fires in push order, skips cancelled timers, and ignores cancelling one that already fired', () => {
    const q = new TimerFifo();
    const a = q.push(10, 1);
    const b = q.push(20, 2);
    q.push(20, 3);
    expect(q.nextAt).toBe(10);
    q.cancel(b);
    expect(q.shift()).toBe(1);
    q.cancel(a); // already fired: no effect on the others
    expect(q.shift()).toBe(-1); // b, cancelled
    expect(q.shift()).toBe(3);
    expect(q.length).toBe(0);
    expect(q.nextAt).toBe(Infinity);
  });

  it('matches a plain list model under random pushes, cancels and shifts (growth and wrap-around included)', () => {
    type Op = { kind: 'push' } | { kind: 'cancel'; pick: number } | { kind: 'shift' };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.constant<Op>({ kind: 'push' }),
      fc.nat(1000).map((pick): Op => ({ kind: 'cancel', pick })),
      fc.constant<Op>({ kind: 'shift' }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 600 }), (ops) => {
        const q = new TimerFifo();
        const model: { pos: number; id: number; at: number; alive: boolean }[] = [];
        let t = 0;
        let id = 0;
        for (const o of ops) {
          if (o.kind === 'push') {
            t += 1;
            model.push({ pos: q.push(t, id), id, at: t, alive: true });
            id++;
          } else if (o.kind === 'cancel' && model.length > 0) {
            const m = model[o.pick % model.length];
            q.cancel(m.pos);
            m.alive = false;
          } else if (o.kind === 'shift' && model.length > 0) {
            const m = model.shift() as (typeof model)[number];
            expect(q.shift()).toBe(m.alive ? m.id : -1);
          }
          expect(q.length).toBe(model.length);
          expect(q.nextAt).toBe(model.length > 0 ? model[0].at : Infinity);
        }
      }),
      { numRuns: 200 },
    );
  });
});
