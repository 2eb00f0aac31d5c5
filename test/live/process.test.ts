/**
 * Child processes of a live run: request/reply over IPC, stop on request, and no orphan
 * left behind — when a run fails half-way, when the parent is killed outright, and when
 * `meshsim live` gets Ctrl-C (SIGINT) mid-run.
 */
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { fleetService } from '../../src/live/fleet/service.js';
import { ChildHost, childModule, InProcessHost, liveChildren } from '../../src/live/process.js';
import { runLive } from '../../src/live/run.js';
import type { Scenario } from '../../src/scenario/types.js';
import { tempFiles } from '../cli/_run.js';
import { tinyScenario } from '../_tiny-scenario.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const FLEET = childModule(new URL('../../src/live/run.ts', import.meta.url).href, 'fleet/child');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pid: number, withinMs = 5000): Promise<boolean> {
  const until = performance.now() + withinMs;
  while (performance.now() < until) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !alive(pid);
}

/** The Node child processes of `pid` (tsx's esbuild service is not one of ours). */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((s) => s.trim().split(/\s+/))
      .filter(([n, comm]) => Number(n) > 0 && comm === 'node')
      .map(([n]) => Number(n));
  } catch {
    return [];
  }
}

afterEach(() => {
  for (const c of liveChildren()) c.kill();
});

const { writeScenario, fresh } = tempFiles('meshsim-process-');

describe('ChildHost', () => {
  it('answers requests and exits when asked to stop', async () => {
    const host = new ChildHost('fleet', FLEET);
    const pid = host.pid as number;
    const addresses = await host.request<Record<string, string>>({
      type: 'start',
      config: { seed: 1, faults: [], instances: [{ service: 'api', index: 0, zone: 'a', slots: 1, queue: 0, serviceTime: { dist: 'constant', value: 1 }, seed: 1 }] },
    });
    expect(addresses['api/0']).toMatch(/^127\.0\.0\.1:\d+$/);
    await expect(host.request({ type: 'nonsense' })).rejects.toThrow(/unknown request "nonsense"/);
    await host.stop();
    expect(host.running).toBe(false);
    expect(await gone(pid)).toBe(true);
    expect(liveChildren()).not.toContain(host);
  });

  it('an in-process host serves the same requests (layout single) and starts no process', async () => {
    const host = new InProcessHost('fleet', fleetService());
    const addresses = await host.request<Record<string, string>>({
      type: 'start',
      config: { seed: 1, faults: [], instances: [{ service: 'api', index: 0, zone: 'a', slots: 1, queue: 0, serviceTime: { dist: 'constant', value: 1 }, seed: 1 }] },
    });
    expect(addresses['api/0']).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(liveChildren()).toEqual([]);
    await expect(host.request({ type: 'nonsense' })).rejects.toThrow(/unknown request "nonsense"/);
    await expect(host.request({ type: 'start', config: { seed: 1, faults: [], instances: [] } })).rejects.toThrow(/fleet: fleet already started/);
    await host.stop();
    await expect(host.request({ type: 'stats' })).rejects.toThrow(/stopped/);
  });

  it('a failed run stops every process it started', async () => {
    const pids = new Set<number>();
    const watch = setInterval(() => liveChildren().forEach((c) => c.pid !== undefined && pids.add(c.pid)), 5);
    const scenario: Scenario = {
      name: 'broken',
      seed: 1,
      seeds: 1,
      duration: 1000,
      warmup: 0,
      drain: 500,
      services: {
        api: { instances: 1, zones: ['a'], concurrency: 1, queue: 0, serviceTime: { dist: 'constant', value: 1 }, weight: 1, priority: 0, overrides: [], calls: [], mesh: { balancer: { kind: 'round-robin' } } },
      },
      network: { latency: { dist: 'constant', value: 0 } },
      workload: [{ name: 'users', target: 'api', zone: 'a', sidecars: 1, zones: ['a'], arrival: { process: 'poisson', rate: 10, steps: [] } }],
      mesh: { balancer: { kind: 'round-robin' } },
      membership: [],
      faults: [],
    };
    // A fleet that cannot start fails after forking.
    const bad = { ...scenario, services: { api: { ...scenario.services.api, serviceTime: { dist: 'nonsense' } } } } as unknown as Scenario;
    await expect(runLive(bad, { seed: 1, faults: [], bucketMs: 1000 })).rejects.toThrow(/fleet/);
    clearInterval(watch);
    expect(pids.size).toBeGreaterThan(0);
    expect(liveChildren()).toEqual([]);
    for (const pid of pids) expect(await gone(pid)).toBe(true);
  });

  it('children exit by themselves when their parent is killed', async () => {
    // A parent that starts a fleet child, prints both PIDs, and waits to be killed.
    // .mts: an ES module wherever the temporary directory is (a .ts there would follow the nearest
    // package.json's "type", and none means CommonJS, where top-level await fails).
    const script = fresh('parent.mts');
    writeFileSync(
      script,
      `import { ChildHost, childModule } from ${JSON.stringify(join(ROOT, 'src/live/process.ts'))};
const host = new ChildHost('fleet', childModule(${JSON.stringify(new URL('../../src/live/run.ts', import.meta.url).href)}, 'fleet/child'));
await host.request({ type: 'start', config: { seed: 1, faults: [], instances: [] } });
console.log(JSON.stringify({ parent: process.pid, child: host.pid }));
setInterval(() => undefined, 1000);
`,
    );
    const parent = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      parent.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(out.split('\n')[0]);
      });
      parent.on('exit', () => reject(new Error('parent exited early')));
    });
    const { child } = JSON.parse(line) as { parent: number; child: number };
    expect(alive(child)).toBe(true);
    parent.kill('SIGKILL');
    expect(await gone(child)).toBe(true);
  }, 30_000);

  it('meshsim live stops every process on Ctrl-C (SIGINT), writes nothing and exits 130', async () => {
    const file = writeScenario(tinyScenario({ duration: '20s', seeds: 1, variants: { rr: '{}' } }));
    const out = fresh('out');
    const cli = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'live', file, '--out', out], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      cli.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('live for')) resolve();
      });
      cli.on('exit', () => reject(new Error(`exited early: ${stderr}`)));
    });
    // Wait until both children are up, then interrupt.
    let kids: number[] = [];
    for (let i = 0; i < 100 && kids.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 50));
      kids = childrenOf(cli.pid as number);
    }
    expect(kids.length).toBe(2);
    const code = new Promise<number | null>((resolve) => cli.on('exit', (c) => resolve(c)));
    cli.kill('SIGINT');
    expect(await code).toBe(130);
    expect(stderr).toMatch(/interrupted; every process of the run was stopped, nothing written/);
    for (const pid of kids) expect(await gone(pid)).toBe(true);
    expect(() => execFileSync('ls', [join(out, 'report.json')], { stdio: 'ignore' })).toThrow();
  }, 40_000);
});
