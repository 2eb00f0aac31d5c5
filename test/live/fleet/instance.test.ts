/**
 * A live backend instance behaves as the simulator's instance model: slots, a bounded FIFO
 * queue answering 503 when full, and each fault (crash, hang, slow, error, pause,
 * partition), on real sockets on 127.0.0.1. No timing assertions: only orderings and
 * lower bounds that hold by construction (a timer never fires before its delay).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { rngStream } from '../../../src/core/rng.js';
import { BackendInstance, type InstanceConfig, type InstanceFault } from '../../../src/live/fleet/instance.js';
import { get, sleep, until } from '../_http.js';

const opened: BackendInstance[] = [];

async function instance(over: Partial<InstanceConfig> = {}, call?: (service: string) => Promise<boolean>): Promise<BackendInstance> {
  const i = new BackendInstance({ service: 'api', index: 0, zone: 'a', slots: 1, queue: 0, serviceTime: { dist: 'constant', value: 50 }, seed: 1, ...over }, call);
  opened.push(i);
  await i.listen();
  return i;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((i) => i.close()));
});

describe('BackendInstance', () => {
  it('serves with its slots, queues up to the bound, and answers 503 beyond it', async () => {
    const i = await instance({ slots: 2, queue: 1, serviceTime: { dist: 'constant', value: 150 } });
    const answers = [get(i.port), get(i.port), get(i.port), get(i.port)];
    const first = await Promise.race(answers);
    // The fourth finds both slots busy and the one queue place taken: rejected at once.
    expect(first).toMatchObject({ status: 503, outcome: 'rejected' });
    const all = await Promise.all(answers);
    expect(all.filter((a) => a.status === 200)).toHaveLength(3);
    expect(all.filter((a) => a.status === 200).every((a) => a.outcome === 'ok' && a.instance === 'api/0')).toBe(true);
    const s = i.stats();
    expect(s).toMatchObject({ arrivals: 4, served: 3, rejected: 1 });
    // Each served request held its slot at least its 150 ms of service time.
    expect(s.busyMs).toBeGreaterThanOrEqual(3 * 149);
  });

  it('with no queue, a request beyond the slots is rejected while they are busy', async () => {
    const i = await instance({ slots: 1, queue: 0, serviceTime: { dist: 'constant', value: 100 } });
    const a = get(i.port);
    await until(() => i.load.busy === 1);
    expect(i.load).toEqual({ busy: 1, queued: 0 });
    expect(await get(i.port)).toMatchObject({ status: 503, outcome: 'rejected' });
    expect(await a).toMatchObject({ status: 200 });
  });

  it('a crash resets what it holds and refuses connections; it comes back on the same port', async () => {
    const i = await instance({ serviceTime: { dist: 'constant', value: 300 } });
    const port = i.port;
    const held = get(port);
    await until(() => i.load.busy === 1);
    const crash: InstanceFault = { kind: 'crash' };
    await i.faultOn(crash);
    expect((await held).error).toBe('ECONNRESET');
    expect((await get(port)).error).toBe('ECONNREFUSED');
    await i.faultOff(crash);
    expect(i.port).toBe(port);
    expect(await get(port)).toMatchObject({ status: 200 });
  });

  it('a hang accepts and never answers, also what it held; afterwards it serves again', async () => {
    const i = await instance({ serviceTime: { dist: 'constant', value: 100 } });
    const held = get(i.port, {}, 600);
    await until(() => i.load.busy === 1);
    const hang: InstanceFault = { kind: 'hang' };
    await i.faultOn(hang);
    expect(await get(i.port, {}, 300)).toEqual({ error: 'TIMEOUT' });
    expect(await held).toEqual({ error: 'TIMEOUT' });
    await i.faultOff(hang);
    expect(await get(i.port)).toMatchObject({ status: 200 });
    expect(i.stats().lost).toBe(2);
  });

  it('a slow fault multiplies service time and adds extra work', async () => {
    const i = await instance({ serviceTime: { dist: 'constant', value: 20 } });
    await i.faultOn({ kind: 'slow', factor: 5, extra: () => 50 });
    await get(i.port);
    expect(i.stats().busyMs).toBeGreaterThanOrEqual(149);
  });

  it('joining cold: service time × factor at its join, back to 1× linearly over `for` (the simulator’s cold start)', async () => {
    let t = 0; // the run clock, moved by hand
    const i = new BackendInstance({ service: 'api', index: 0, zone: 'a', slots: 1, queue: 0, serviceTime: { dist: 'constant', value: 20 }, seed: 1, coldStart: { factor: 5, for: 1000, joinAt: 1000 } }, undefined, () => t);
    opened.push(i);
    await i.listen();
    const took = async (at: number): Promise<number> => {
      t = at;
      const t0 = performance.now();
      expect((await get(i.port)).status).toBe(200);
      return performance.now() - t0;
    };
    const before = await took(500); // not joined yet: warm work (20 ms)
    const joined = await took(1000); // 5× = 100 ms
    const half = await took(1500); // 1 + 4 × 0.5 = 3× = 60 ms
    const after = await took(2500); // 20 ms
    expect(joined).toBeGreaterThanOrEqual(98);
    expect(joined).toBeLessThan(100 + 40);
    expect(half).toBeGreaterThanOrEqual(58);
    expect(half).toBeLessThan(60 + 30);
    for (const warm of [before, after]) {
      expect(warm).toBeGreaterThanOrEqual(18);
      expect(warm).toBeLessThan(50);
    }
  });

  it('an error fault answers its status at the given rate, at once with fast', async () => {
    const i = await instance({ serviceTime: { dist: 'constant', value: 5 }, slots: 4, queue: 100 });
    await i.faultOn({ kind: 'error', rate: 1, status: 500, fast: false, rng: rngStream(1, 'e') });
    expect(await get(i.port)).toMatchObject({ status: 500, outcome: 'error' });
    expect(i.stats().served).toBe(1); // it did the work, then failed
    const half: InstanceFault = { kind: 'error', rate: 0.5, status: 503, fast: true, rng: rngStream(1, 'half') };
    await i.faultOn(half);
    const answers = await Promise.all(Array.from({ length: 200 }, () => get(i.port)));
    const errors = answers.filter((a) => a.status === 503 && a.outcome === 'error').length;
    // The newest error fault rules; Binomial(200, 0.5): 4.5σ ≈ 32 either side of 100.
    expect(Math.abs(errors - 100)).toBeLessThan(32);
    expect(answers.every((a) => a.status === 200 || a.status === 503)).toBe(true);
    // Fast errors skip the work.
    expect(i.stats().served).toBe(1 + 200 - errors);
  });

  it('a pause holds arrivals beyond the bound and finishes nothing until it ends; then the bound applies', async () => {
    const i = await instance({ slots: 1, queue: 1, serviceTime: { dist: 'constant', value: 30 } });
    const pause: InstanceFault = { kind: 'pause' };
    const first = get(i.port);
    await until(() => i.load.busy === 1);
    await i.faultOn(pause);
    const more = [get(i.port), get(i.port), get(i.port)];
    await until(() => i.load.queued === 3);
    await sleep(50); // longer than the first one's 30 ms of work: stopped by the pause, it does not end
    expect(i.stats().served).toBe(0);
    expect(i.load).toEqual({ busy: 1, queued: 3 });
    await i.faultOff(pause);
    // The first still holds its slot (its work goes on for what it had left): the bound keeps
    // one waiting, the two newer ones are rejected, as the simulator answers them.
    expect(i.load).toEqual({ busy: 1, queued: 1 });
    const all = await Promise.all([first, ...more]);
    expect(all.map((a) => a.status)).toEqual([200, 200, 503, 503]);
  });

  it('a pause stops work in progress: a request mid-service finishes the pause\'s length later (as in the simulator)', async () => {
    const i = await instance({ serviceTime: { dist: 'constant', value: 100 } });
    const pause: InstanceFault = { kind: 'pause' };
    const t0 = performance.now();
    const a = get(i.port);
    await until(() => i.load.busy === 1);
    await sleep(30);
    await i.faultOn(pause);
    await sleep(120); // past its 100 ms of work: it must not end during the pause
    expect(i.stats().served).toBe(0);
    await i.faultOff(pause);
    expect(await a).toMatchObject({ status: 200 });
    // 100 ms of work plus the ~120 ms pause (timers are late, never early).
    expect(performance.now() - t0).toBeGreaterThanOrEqual(215);
  });

  it('a partition drops or resets the matching caller only', async () => {
    const i = await instance({ serviceTime: { dist: 'constant', value: 1 }, slots: 8, queue: 8 });
    const drop: InstanceFault = { kind: 'partition', mode: 'drop', matches: (caller) => caller === 'users' };
    await i.faultOn(drop);
    expect(await get(i.port, { 'x-meshsim-from': 'users' }, 200)).toEqual({ error: 'TIMEOUT' });
    expect(await get(i.port, { 'x-meshsim-from': 'batch' })).toMatchObject({ status: 200 });
    await i.faultOff(drop);
    await i.faultOn({ kind: 'partition', mode: 'refuse', matches: (_c, zone) => zone === 'b' });
    expect((await get(i.port, { 'x-meshsim-zone': 'b' })).error).toBe('ECONNRESET');
    expect(await get(i.port, { 'x-meshsim-zone': 'a' })).toMatchObject({ status: 200 });
  });

  it('makes its downstream calls in order while holding the slot; a failed call fails the request unless tolerated', async () => {
    const calls: string[] = [];
    const i = await instance(
      {
        serviceTime: { dist: 'constant', value: 1 },
        calls: [
          { service: 'db', parallel: 2, probability: 1, onFailure: 'fail' },
          { service: 'cache', parallel: 1, probability: 1, onFailure: 'tolerate' },
        ],
      },
      (service) => {
        calls.push(service);
        return Promise.resolve(service !== 'cache');
      },
    );
    expect(await get(i.port)).toMatchObject({ status: 200, outcome: 'ok' });
    expect(calls).toEqual(['db', 'db', 'cache']);
    const failing = await instance({ serviceTime: { dist: 'constant', value: 1 }, calls: [{ service: 'db', parallel: 1, probability: 1, onFailure: 'fail' }] }, () => Promise.resolve(false));
    expect(await get(failing.port)).toMatchObject({ status: 503, outcome: 'error' });
  });

  it('answers health-check probes without a slot, but fails them under an error fault and holds them in a pause', async () => {
    const i = await instance({ slots: 1, queue: 0, serviceTime: { dist: 'constant', value: 300 } });
    const busy = get(i.port);
    await until(() => i.load.busy === 1);
    expect(await get(i.port, {}, 5000, '/healthz')).toMatchObject({ status: 200 }); // the one slot is busy
    const err: InstanceFault = { kind: 'error', rate: 1, status: 503, fast: false, rng: rngStream(1, 'p') };
    await i.faultOn(err);
    expect(await get(i.port, {}, 5000, '/healthz')).toMatchObject({ status: 503, outcome: 'error' });
    await i.faultOff(err);
    const pause: InstanceFault = { kind: 'pause' };
    await i.faultOn(pause);
    let answered = false;
    const held = get(i.port, {}, 5000, '/healthz').then((a) => ((answered = true), a));
    await sleep(100);
    expect(answered).toBe(false);
    await i.faultOff(pause);
    expect(await held).toMatchObject({ status: 200 });
    await busy;
    expect(i.stats()).toMatchObject({ arrivals: 1, served: 1 }); // probes are not requests
  });

  it('close stops listening and ends held requests', async () => {
    const i = await instance({ serviceTime: { dist: 'constant', value: 10_000 } });
    const port = i.port;
    const held = get(port);
    await until(() => i.load.busy === 1);
    await i.close();
    expect((await held).error).toBeDefined();
    expect((await get(port)).error).toBe('ECONNREFUSED');
  });
});
