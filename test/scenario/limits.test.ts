/**
 * Size limits and file-level checks of scenario loading (src/scenario/schema.ts LIMITS,
 * src/scenario/load.ts): a scenario too big to simulate, a scenario name that would write
 * outside reports/, a file that is not a scenario, an unreadable path, and a variant
 * setting a field of a service the file does not have. Each is one clear problem, named at
 * its field, before anything runs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadScenario, MAX_SOURCE_BYTES, parseScenarioText } from '../../src/scenario/load.js';
import { LIMITS, MAX_PARALLEL, MAX_PRIORITY, MAX_SLOTS } from '../../src/scenario/schema.js';
import { ScenarioError } from '../../src/scenario/errors.js';
import { edit, errorOf, linesOf, MINIMAL } from './_fixtures.js';

describe('size limits', () => {
  it('seeds above the limit are refused at the field; the limit itself loads', () => {
    expect(linesOf(edit(MINIMAL, 'seeds: 1', `seeds: ${LIMITS.seeds + 1}`))).toEqual([`q.yaml:3:8: seeds: at most 100,000 replications (got 100,001)`]);
    expect(parseScenarioText(edit(MINIMAL, 'seeds: 1', `seeds: ${LIMITS.seeds}`), 'q.yaml').base.seeds).toBe(LIMITS.seeds);
  });

  it('more instances than the limit, membership additions included, are refused', () => {
    const at = edit(MINIMAL, 'instances: 1', `instances: ${LIMITS.instances}`);
    expect(parseScenarioText(at, 'q.yaml').base.services.api.instances).toBe(LIMITS.instances);
    const over = `${at}membership:\n  - { at: 1s, service: api, add: 1 }\n`;
    const lines = linesOf(over);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/services: at most 1,000,000 instances in all, membership additions included \(this scenario has 1,000,001/);
  });

  it('sidecars × endpoints above the limit are refused at the workload', () => {
    const text = edit(edit(MINIMAL, 'instances: 1', 'instances: 100000'), '    target: api\n', '    target: api\n    sidecars: 201\n');
    expect(linesOf(text)[0]).toMatch(/workload: too many sidecar × endpoint pairs: 20,100,000, at most 20,000,000/);
  });

  it('closed-loop clients and request keys have limits of their own', () => {
    const closed = edit(MINIMAL, '{ process: constant, rate: 10/s }', `{ process: closed, clients: ${LIMITS.clients + 1}, think: { dist: constant, value: 1ms } }`);
    expect(linesOf(closed)[0]).toMatch(/workload\.0\.arrival\.clients: at most 1,000,000 clients/);
    const keys = edit(MINIMAL, '    target: api\n', `    target: api\n    key: { dist: uniform, n: ${LIMITS.keys + 1} }\n`);
    expect(linesOf(keys)[0]).toMatch(/workload\.0\.key\.n: at most 10,000,000 keys/);
  });
});

describe('the work of one run', () => {
  const rate = (r: string): string => edit(MINIMAL, 'rate: 10/s', `rate: ${r}`);
  const only = (text: string): string => {
    const lines = linesOf(text);
    expect(lines).toHaveLength(1);
    return lines[0];
  };

  it('a rate × duration past the limit is refused at the rate, with the figure and the limit (1e12/s, and 1000/us: a plausible typo for 1000/s)', () => {
    expect(only(rate('1e12/s'))).toBe(
      "q.yaml:15:41: workload.0.arrival.rate: a run would make about 10,000,000,000,000 requests (w: 10,000,000,000,000), over the duration of 10s; at most 10,000,000,000 per run (hours of simulation at about a million requests a second): check the rate's unit (1000/us is a million times 1000/s) and the duration",
    );
    // 1000/us for 10 s is the limit itself; for a minute, 6 times it.
    expect(only(edit(rate('1000/us'), 'duration: 10s', 'duration: 1m'))).toMatch(/^q\.yaml:15:41: workload\.0\.arrival\.rate: a run would make about 60,000,000,000 requests \(w: 60,000,000,000\), over the duration of 1m; at most 10,000,000,000 per run/);
  });

  it('so is an absurd duration (1e300s, 100000h), without failing to print it', () => {
    expect(only(edit(MINIMAL, 'duration: 10s', 'duration: 1e300s'))).toMatch(/workload\.0\.arrival\.rate: a run would make about 1\.00e\+301 requests \(w: 1\.00e\+301\), over the duration of 1e\+300s; at most 10,000,000,000 per run/);
    expect(only(edit(rate('1000/s'), 'duration: 10s', 'duration: 100000h'))).toMatch(/workload\.0\.arrival\.rate: a run would make about 360,000,000,000 requests \(w: 360,000,000,000\), over the duration of 100000h; at most/);
  });

  it('the limit itself loads; rate steps count from their time on', () => {
    const text = edit(rate('100000000/s'), 'duration: 10s', 'duration: 100s');
    expect(parseScenarioText(text, 'q.yaml').base.duration).toBe(100_000);
    expect(linesOf(edit(text, 'rate: 100000000/s', 'rate: 100000001/s'))[0]).toMatch(/about 10,000,000,100 requests/);
    // 10/s for 5 s, then 1e10/s for the last 5 s: 50 + 5e10.
    const stepped = edit(MINIMAL, 'rate: 10/s }', 'rate: 10/s, steps: [{ at: 5s, rate: 10000000000/s }] }');
    expect(only(stepped)).toMatch(/^q\.yaml:15:41: workload\.0\.arrival\.rate: a run would make about 50,000,000,050 requests/);
    // A step after the end adds nothing.
    expect(parseScenarioText(edit(MINIMAL, 'rate: 10/s }', 'rate: 10/s, steps: [{ at: 10s, rate: 10000000000/s }] }'), 'q.yaml').base.workload).toHaveLength(1);
  });

  it("a closed loop counts at most one request per client per think time and round trip, at its clients", () => {
    const closed = edit(edit(MINIMAL, '{ process: constant, rate: 10/s }', '{ process: closed, clients: 1000000, think: { dist: constant, value: 1ms } }'), 'duration: 10s', 'duration: 1h');
    expect(only(closed)).toMatch(/^q\.yaml:15:\d+: workload\.0\.arrival\.clients: a run would make about 3,600,000,000,000 requests/);
    expect(parseScenarioText(edit(closed, 'duration: 1h', 'duration: 10s'), 'q.yaml').base.duration).toBe(10_000);
  });

  it('each request counts with the downstream calls it makes (parallel × probability, down the call graph)', () => {
    const db = '    calls: [{ service: db, parallel: 10000 }]\n  db:\n    instances: 1\n    calls: [{ service: cache, parallel: 100, probability: 50% }]\n    serviceTime: { dist: constant, value: 1ms }\n  cache:\n    instances: 1\n    serviceTime: { dist: constant, value: 1ms }\nnetwork:';
    const text = edit(rate('10000/s'), 'network:', db);
    // 100,000 arrivals, each making 10,000 × (1 + 100 × 50%) calls below it.
    expect(only(text)).toMatch(/a run would make about 51,000,100,000 requests \(w: 100,000 × 510,001 with the downstream calls each makes\)/);
    expect(parseScenarioText(edit(text, 'rate: 10000/s', 'rate: 1000/s'), 'q.yaml').base.services.db.calls[0].parallel).toBe(100);
  });

  it("a variant's or a sweep's rate is held to the limit too, at its override", () => {
    expect(only(`${MINIMAL}variants:\n  typo: { workload.0.arrival.rate: 2000/us }\n`)).toMatch(/^q\.yaml:19:\d+: variants\.typo → workload\.0\.arrival\.rate: a run would make about/);
    expect(only(`${MINIMAL}sweep:\n  duration: [10s, 1e300s]\n`)).toMatch(/sweep\.duration → workload\.0\.arrival\.rate: a run would make about 1\.00e\+301 requests/);
  });

  it('health checks and outlier-detection sweeps past the limit are refused at their interval', () => {
    const hc = edit(MINIMAL, '  balancer: { kind: random }\n', '  balancer: { kind: random }\n  failover: { healthCheck: { interval: 1us, timeout: 1us, unhealthyThreshold: 1, healthyThreshold: 1 } }\n');
    const big = edit(edit(hc, 'instances: 1', 'instances: 100000'), 'duration: 10s', 'duration: 1h');
    expect(only(big)).toMatch(/^q\.yaml:\d+:\d+: mesh\.failover\.healthCheck\.interval: a run would make about 361,000,000,000,000 periodic checks \(health-check probes and outlier-detection sweeps, each interval for each sidecar × endpoint, over 3610s with the drain\); at most 10,000,000,000 per run: a longer interval, fewer sidecars or a shorter duration$/);
    expect(parseScenarioText(hc, 'q.yaml').base.mesh.failover?.healthCheck?.interval).toBe(0.001);
  });

  it('a fault repeating past the limit of windows is refused at its period', () => {
    const fault = (f: string): string => `${MINIMAL}faults:\n  - ${f}\n`;
    expect(only(fault('{ kind: pause, target: { service: api }, at: 0s, every: 1us, for: 0.5us }'))).toMatch(
      /^q\.yaml:19:\d+: faults\.0\.every: the faults would open about 20,000,000 windows in a run \(one per repetition, over 20s with the drain\); at most 1,000,000 per run: repeat less often$/,
    );
    expect(only(fault('{ kind: crash, target: { service: api }, mtbf: 5us, mttr: 5us }'))).toMatch(/faults\.0\.mtbf: the faults would open about 2,000,000 windows/);
    expect(only(fault('{ kind: flap, target: { service: api }, up: 1us, down: 1us }'))).toMatch(/faults\.0\.up: the faults would open about 10,000,000 windows/);
    expect(parseScenarioText(fault('{ kind: pause, target: { service: api }, at: 0s, every: 1ms, for: 0.5ms }'), 'q.yaml').base.faults).toHaveLength(1);
  });
});

describe('whole numbers the simulator keeps in 32-bit words', () => {
  const withService = (field: string): string => edit(MINIMAL, '    instances: 1\n', `    instances: 1\n    ${field}\n`);

  it('concurrency and queue above 2^31 − 1 are refused, naming the maximum and unbounded (they used to wrap: 2^31 slots rejected every request)', () => {
    for (const field of ['concurrency', 'queue']) {
      for (const value of [2 ** 31, 4294967300, 2 ** 53]) {
        const lines = linesOf(withService(`${field}: ${value}`));
        expect(lines, `${field}: ${value}`).toHaveLength(1);
        expect(lines[0]).toMatch(new RegExp(`^q\\.yaml:9:\\d+: services\\.api\\.${field}: expected a whole number from [01] to 2,147,483,647, or unbounded \\(no limit\\); got ${value}$`));
      }
      const at = parseScenarioText(withService(`${field}: ${MAX_SLOTS}`), 'q.yaml').base.services.api;
      expect(at[field as 'concurrency' | 'queue']).toBe(MAX_SLOTS);
      expect(parseScenarioText(withService(`${field}: unbounded`), 'q.yaml').base.services.api[field as 'concurrency' | 'queue']).toBe(Infinity);
    }
  });

  it('an instance override is held to the same maximum', () => {
    const text = withService('overrides: [{ instances: [0], concurrency: 2147483648 }]');
    expect(linesOf(text)[0]).toMatch(/services\.api\.overrides\.0\.concurrency: expected a whole number from 1 to 2,147,483,647, or unbounded/);
  });

  it(`priority is at most ${MAX_PRIORITY}, as in Envoy (an Int32 word, and one balancer level per priority up to the largest)`, () => {
    expect(linesOf(withService('priority: 4294967296'))[0]).toMatch(/services\.api\.priority: expected a priority level: a whole number from 0 \(preferred\) to 128, as in Envoy; got 4294967296/);
    expect(linesOf(withService(`overrides: [{ instances: [0], priority: ${MAX_PRIORITY + 1} }]`))[0]).toMatch(/overrides\.0\.priority: expected a priority level/);
    expect(parseScenarioText(withService(`priority: ${MAX_PRIORITY}`), 'q.yaml').base.services.api.priority).toBe(MAX_PRIORITY);
  });

  it(`a call's fan-out is at most ${MAX_PARALLEL.toLocaleString('en-US')} copies (a 32-bit count of calls in flight per request)`, () => {
    const db = '  db:\n    instances: 1\n    serviceTime: { dist: constant, value: 1ms }\nnetwork:';
    const text = edit(withService(`calls: [{ service: db, parallel: ${2 ** 32} }]`), 'network:', db);
    expect(linesOf(text)[0]).toMatch(/services\.api\.calls\.0\.parallel: expected a fan-out: a whole number from 1 to 10,000; got 4294967296/);
    expect(parseScenarioText(text.replace(String(2 ** 32), String(MAX_PARALLEL)), 'q.yaml').base.services.api.calls[0].parallel).toBe(MAX_PARALLEL);
  });
});

describe('the scenario name', () => {
  it('may not contain / or \\ or control characters, or be . or .. (it names reports/<name>)', () => {
    for (const name of ['"../../escaped"', 'a/b', '"a\\\\b"', '..', '.', '"tab\\there"']) {
      const lines = linesOf(edit(MINIMAL, 'name: minimal', `name: ${name}`));
      expect(lines, name).toHaveLength(1);
      expect(lines[0], name).toMatch(/^q\.yaml:1:7: name: expected a scenario name without \/ or \\/);
    }
  });

  it('may hold spaces, dots and other punctuation', () => {
    for (const name of ['my sweep', 'v1.2', 'a_b-c (draft)']) {
      expect(parseScenarioText(edit(MINIMAL, 'name: minimal', `name: ${name}`), 'q.yaml').base.name).toBe(name);
    }
  });
});

describe('files that are not scenarios', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshsim-limits-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a mapping with no scenario key at all is one problem, not one per key', () => {
    const lines = linesOf('root: x\ndaemon: y\nbin: z\n');
    expect(lines).toEqual([`q.yaml: not a meshsim/scenario@1 scenario: none of its top-level keys is a scenario's (schema, name, description, seed, seeds, duration, warmup, drain, services, network, workload, mesh, membership, faults, assert, variants, sweep)`]);
  });

  const read = (path: string): string => {
    try {
      loadScenario(path);
    } catch (e) {
      expect(e).toBeInstanceOf(ScenarioError);
      return (e as ScenarioError).message;
    }
    throw new Error('loaded');
  };

  it('a directory, or a missing file, says so in words', () => {
    expect(read(dir)).toBe(`${dir}: cannot read scenario file: it is a directory; expected a scenario file (YAML or JSON)`);
    expect(read(join(dir, 'nope.yaml'))).toBe(`${join(dir, 'nope.yaml')}: cannot read scenario file: no such file`);
  });

  it('a device is refused without being read (/dev/zero used to be read until memory ran out)', () => {
    for (const device of ['/dev/zero', '/dev/null', '/dev/urandom']) {
      if (!existsSync(device)) continue;
      expect(read(device)).toBe(`${device}: cannot read scenario file: it is a character device, not a regular file; expected a scenario file (YAML or JSON), or - for standard input`);
    }
  });

  it(`a file larger than ${MAX_SOURCE_BYTES.toLocaleString('en-US')} bytes (4 MiB) is refused before it is read; one of that size is read`, () => {
    const big = join(dir, 'big.yaml');
    writeFileSync(big, Buffer.alloc(MAX_SOURCE_BYTES + 1, 0x20));
    expect(read(big)).toBe(`${big}: cannot read scenario file: it is 4,194,305 bytes; a scenario file is at most 4,194,304 bytes (4 MiB)`);
    writeFileSync(big, `${MINIMAL}${' '.repeat(MAX_SOURCE_BYTES - Buffer.byteLength(MINIMAL) - 1)}\n`);
    expect(loadScenario(big).base.name).toBe('minimal');
  });

  it('a pipe is read up to the cap, then refused (an endless stream cannot exhaust memory)', () => {
    const fifo = join(dir, 'pipe.yaml');
    if (spawnSync('mkfifo', [fifo]).status !== 0) return; // no mkfifo here
    const writer = spawn('sh', ['-c', `head -c ${MAX_SOURCE_BYTES * 2} /dev/zero > '${fifo}'`], { stdio: 'ignore' });
    try {
      expect(read(fifo)).toBe(`${fifo}: cannot read scenario file: it is larger than 4,194,304 bytes (4 MiB), the most a scenario file may be`);
    } finally {
      writer.kill('SIGKILL');
    }
    // A pipe within the cap is a scenario like any file (`meshsim validate <(...)`). The
    // writer needs nothing from this process, whose event loop the read blocks.
    const small = spawn('sh', ['-c', 'printf "%s" "$TEXT" > "$FIFO"'], { stdio: 'ignore', env: { ...process.env, TEXT: MINIMAL, FIFO: fifo } });
    try {
      expect(loadScenario(fifo).base.name).toBe('minimal');
    } finally {
      small.kill('SIGKILL');
    }
  });
});

describe('variants and sweeps naming a service the file does not have', () => {
  it("a variant's override is reported at the variant, with a suggestion", () => {
    const text = `${MINIMAL}variants:\n  a: { services.apii.instances: 3 }\n`;
    expect(linesOf(text)).toEqual([`q.yaml:19:8: variants.a → services.apii.instances: cannot apply override: there is no service 'apii' (did you mean 'api'?); services: api`]);
  });

  it('a sweep path likewise', () => {
    expect(errorOf(`${MINIMAL}sweep:\n  services.db.instances: [1, 2]\n`).message).toMatch(/sweep\.services\.db\.instances: cannot apply override: there is no service 'db'; services: api/);
  });

  it('a variant may still add a whole new service', () => {
    const text = `${MINIMAL}variants:\n  more: { services.cache: { instances: 1, serviceTime: { dist: constant, value: 1ms } } }\n`;
    expect(Object.keys(parseScenarioText(text, 'q.yaml').variants[0].scenario.services)).toEqual(['api', 'cache']);
  });
});
