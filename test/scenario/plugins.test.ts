/**
 * Plugins (src/scenario/plugins.ts): loading a module registers its balancers; every way a
 * plugin can be wrong is an error naming the file and what was expected; kinds registered
 * without a module cannot reach worker threads, and say so.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { balancerKinds, createBalancer, pluginKinds, registerBalancer, resolveBalancerOptions } from '../../src/algorithms/registry.js';
import { rngStream } from '../../src/core/rng.js';
import { Engine } from '../../src/sim/engine.js';
import { runOnWorkers } from '../../src/runner/pool.js';
import { loadedPlugins, loadPlugins, pluginIdentities, PluginError, pluginUrls, threadOnlyKinds } from '../../src/scenario/plugins.js';
import { parseScenarioText } from '../../src/scenario/load.js';
import { tempFiles } from '../cli/_run.js';
import { tinyScenario } from '../_tiny-scenario.js';

const EXAMPLE = resolve(__dirname, '../../examples/plugin/fewest-active.mjs');
const { fresh } = tempFiles('meshsim-plugins-');

/** A plugin module with `source` as its text; returns its file URL. */
function plugin(source: string): string {
  const file = fresh('plugin.mjs');
  writeFileSync(file, source);
  return pathToFileURL(file).href;
}

/** A definition's text with `overrides` (JavaScript expressions) replacing its fields. */
function definition(overrides: Record<string, string> = {}): string {
  const fields: Record<string, string> = {
    kind: "'my-policy'",
    family: "'balancing'",
    summary: "'s'",
    follows: "'f'",
    config: '{ safeParse: (x) => ({ success: true, data: x }), parse: (x) => x }',
    create: '() => ({ rebuild() {}, pick: () => -1, onStart() {}, onEnd() {} })',
    ...overrides,
  };
  return `{ ${Object.entries(fields)
    .filter(([, v]) => v !== 'undefined')
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ')} }`;
}

describe('loadPlugins', () => {
  it('registers the example plugin: its kind is known, its options resolve with their defaults, and it picks', async () => {
    expect(await loadPlugins(pluginUrls([EXAMPLE]))).toEqual(['fewest-active']);
    expect(balancerKinds()).toContain('fewest-active');
    expect(pluginKinds()).toEqual(['fewest-active']);
    expect(loadedPlugins()).toEqual([pathToFileURL(EXAMPLE).href]);
    // What a report records of it: file name, sha256 of its bytes, its kinds.
    expect(pluginIdentities()).toEqual([{ file: 'fewest-active.mjs', sha256: createHash('sha256').update(readFileSync(EXAMPLE)).digest('hex'), kinds: ['fewest-active'] }]);
    expect(resolveBalancerOptions({ kind: 'fewest-active' })).toEqual({ kind: 'fewest-active', choices: 3 });
    const engine = new Engine();
    const b = createBalancer(resolveBalancerOptions({ kind: 'fewest-active', choices: 5 }), { clock: engine, timers: engine, rng: rngStream(1, 'p') });
    b.rebuild([{ id: 'a', address: 'a:1', zone: 'z', weight: 1, health: 'healthy', priority: 0, metadata: {} }]);
    expect(b.pick({})).toBe(0);
    // A scenario file may now name it, options checked by its schema.
    const named = (balancer: string) => parseScenarioText(tinyScenario({ variants: { mine: `{ mesh.balancer: ${balancer} }` } }), 's.yaml').variants[0].scenario.mesh.balancer;
    expect(named('{ kind: fewest-active, choices: 2 }')).toEqual({ kind: 'fewest-active', choices: 2 });
    expect(() => named('{ kind: fewest-active, choices: 0 }')).toThrow(/mesh\.balancer\.choices/);
  });

  it('loading the same module again changes nothing', async () => {
    expect(await loadPlugins(pluginUrls([EXAMPLE]))).toEqual(['fewest-active']);
    expect(pluginKinds()).toEqual(['fewest-active']);
    expect(loadedPlugins()).toHaveLength(1);
  });

  it('takes an array as its default export, or a `balancers` export', async () => {
    const two = plugin(`export default [${definition({ kind: "'plugin-one'" })}, ${definition({ kind: "'plugin-two'" })}];`);
    expect(await loadPlugins([two])).toEqual(['plugin-one', 'plugin-two']);
    const named = plugin(`export const balancers = ${definition({ kind: "'plugin-three'" })};`);
    expect(await loadPlugins([named])).toEqual(['plugin-three']);
    // One identity per module, with the kinds it registered.
    expect(pluginIdentities().slice(-2).map((p) => p.kinds)).toEqual([['plugin-one', 'plugin-two'], ['plugin-three']]);
  });

  it('names the file and what was expected for every kind of bad plugin', async () => {
    expect(() => pluginUrls(['no/such/plugin.mjs'])).toThrow(new PluginError('plugin no/such/plugin.mjs: no such file'));
    expect(() => pluginUrls([__dirname])).toThrow(/no such file/);
    const cases: [string, RegExp][] = [
      ['export const x = 1;', /exports no balancer; expected `export default` a balancer definition/],
      ['export default [];', /exports no balancer/],
      ['throw new Error("boom");', /cannot load it: boom/],
      ['export default 42;', /not a balancer definition: expected an object .* got number/],
      [`export default ${definition({ kind: "'My Policy'" })};`, /kind must be lowercase words joined by hyphens, like my-policy; got "My Policy"/],
      [`export default ${definition({ kind: "'bad-family'", family: "'failover'" })};`, /bad-family: family must be 'balancing'/],
      [`export default ${definition({ kind: "'no-summary'", summary: "''" })};`, /no-summary: summary must be a non-empty string/],
      [`export default ${definition({ kind: "'no-config'", config: 'undefined' })};`, /no-config: config must be a zod 4 schema/],
      [`export default ${definition({ kind: "'no-create'", create: "'x'" })};`, /no-create: create must be a function/],
      [`export default ${definition({ kind: "'p2c'" })};`, /p2c: the kind is taken by one of meshsim's own balancers/],
      [`export default ${definition({ kind: "'fewest-active'" })};`, /fewest-active: the kind is taken by another plugin/],
    ];
    for (const [source, message] of cases) {
      const url = plugin(source);
      const error = await loadPlugins([url]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, source).toBeInstanceOf(PluginError);
      expect((error as Error).message, source).toContain(`plugin ${fileURLToPath(url)}: `);
      expect((error as Error).message, source).toMatch(message);
    }
  });

  it('a kind registered in this thread only is refused by the worker pool, with how to fix it', async () => {
    expect(threadOnlyKinds()).toEqual([]);
    registerBalancer({
      kind: 'thread-only',
      family: 'balancing',
      summary: 's',
      follows: 'f',
      config: { safeParse: (x: unknown) => ({ success: true, data: x }), parse: (x: unknown) => x },
      create: () => ({ rebuild() {}, pick: () => -1, onStart() {}, onEnd() {} }),
    });
    expect(threadOnlyKinds()).toEqual(['thread-only']);
    const scenario = parseScenarioText(tinyScenario(), 's.yaml').base;
    await expect(runOnWorkers([scenario], [{ variant: 0, seed: 1 }, { variant: 0, seed: 2 }], { workers: 2 })).rejects.toThrow(
      /balancer kinds registered in this thread only \(thread-only\) cannot run in worker threads: load them from a module with loadPlugins\(\)/,
    );
  });
});
