/**
 * Plugins: ES modules of the user's that add balancers (`meshsim run --plugin FILE`). A
 * plugin's default export (or its `balancers` export) is a balancer definition or an array
 * of them (docs/writing-a-policy.md); loading it registers each one
 * (algorithms/registry.ts `registerBalancer`), after which scenario files can name their
 * kinds. The modules loaded are remembered by URL: worker threads load the same ones before
 * they simulate (pool.ts), so a plugin's kinds run with any number of workers.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pluginKinds, registerBalancer } from '../algorithms/registry.js';

/** A plugin that cannot be found, loaded or registered; the message names the file. */
export class PluginError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PluginError';
  }
}

const loaded: string[] = [];
/** Kinds that came from a module in {@link loaded} (worker threads can load them too). */
const fromModules = new Set<string>();

/** The file URLs of plugin files given as paths (relative to the working directory). */
export function pluginUrls(paths: readonly string[]): string[] {
  return paths.map((path) => {
    let isFile = false;
    try {
      isFile = statSync(resolve(path)).isFile();
    } catch {
      // missing or unreadable: said below
    }
    if (!isFile) throw new PluginError(`plugin ${path}: no such file`);
    return pathToFileURL(resolve(path)).href;
  });
}

/**
 * Imports each plugin module (file URLs; see {@link pluginUrls}) not loaded yet and
 * registers its balancers. Returns the kinds the modules define, in order.
 */
export async function loadPlugins(urls: readonly string[]): Promise<string[]> {
  const kinds: string[] = [];
  for (const url of urls) {
    const name = url.startsWith('file:') ? fileURLToPath(url) : url;
    let module: Record<string, unknown>;
    try {
      module = (await import(url)) as Record<string, unknown>;
    } catch (e) {
      const hint = /\.[cm]?ts$/.test(name) ? ' (a TypeScript plugin needs a loader: compile it to JavaScript, or run meshsim as `node --import tsx …`)' : '';
      throw new PluginError(`plugin ${name}: cannot load it: ${e instanceof Error ? e.message : String(e)}${hint}`);
    }
    const exported = module.default ?? module.balancers;
    const definitions = Array.isArray(exported) ? (exported as unknown[]) : exported === undefined ? [] : [exported];
    if (definitions.length === 0) {
      throw new PluginError(`plugin ${name}: it exports no balancer; expected \`export default\` a balancer definition (or an array of them), or \`export const balancers = [...]\``);
    }
    for (const definition of definitions) {
      try {
        registerBalancer(definition);
      } catch (e) {
        throw new PluginError(`plugin ${name}: ${e instanceof Error ? e.message : String(e)}`);
      }
      const kind = (definition as { kind: string }).kind;
      kinds.push(kind);
      fromModules.add(kind);
    }
    if (!loaded.includes(url)) loaded.push(url);
  }
  return kinds;
}

/** The plugin modules this thread loaded, for worker threads to load too. */
export function loadedPlugins(): readonly string[] {
  return [...loaded];
}

/** Kinds registered in this thread other than through a plugin module: worker threads cannot have them. */
export function threadOnlyKinds(): string[] {
  return pluginKinds().filter((k) => !fromModules.has(k));
}
