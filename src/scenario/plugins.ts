/**
 * Plugins: ES modules of the user's that add balancers (`meshsim run --plugin FILE`). A
 * plugin's default export (or its `balancers` export) is a balancer definition or an array
 * of them (docs/writing-a-policy.md); loading it registers each one
 * (algorithms/registry.ts `registerBalancer`), after which scenario files can name their
 * kinds. The modules loaded are remembered by URL: worker threads load the same ones before
 * they simulate (runner/pool.ts), and so does the live proxies' process
 * (live/sidecars/service.ts), so a plugin's kinds run with any number of workers and live.
 * Reports record each module's identity (file name, sha256, kinds).
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
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
const identities = new Map<string, PluginIdentity>();
/** Kinds that came from a module in {@link loaded} (worker threads can load them too). */
const fromModules = new Set<string>();

/**
 * What a report records of a plugin its run loaded, so that a reader can tell which code
 * made its figures: the module's file name, the sha256 of its bytes as loaded, and the
 * kinds it registered. Only the module's own file is hashed, not modules it imports.
 */
export interface PluginIdentity {
  /** The file's name (not its directory: reports of one plugin agree across machines), or the specifier of a module that is no file. */
  readonly file: string;
  /** sha256 (hex) of the file's bytes; null for a module that is no file (a package name given to the API). */
  readonly sha256: string | null;
  readonly kinds: readonly string[];
}

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
    let sha256: string | null = null;
    try {
      // Hashed before it is imported: the bytes hashed are the bytes loaded unless the file changes in between.
      if (url.startsWith('file:')) sha256 = createHash('sha256').update(readFileSync(name)).digest('hex');
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
    const moduleKinds: string[] = [];
    for (const definition of definitions) {
      try {
        registerBalancer(definition);
      } catch (e) {
        throw new PluginError(`plugin ${name}: ${e instanceof Error ? e.message : String(e)}`);
      }
      const kind = (definition as { kind: string }).kind;
      kinds.push(kind);
      moduleKinds.push(kind);
      fromModules.add(kind);
    }
    if (!loaded.includes(url)) loaded.push(url);
    if (!identities.has(url)) identities.set(url, { file: url.startsWith('file:') ? basename(name) : url, sha256, kinds: moduleKinds });
  }
  return kinds;
}

/** The plugin modules this thread loaded, for worker threads to load too. */
export function loadedPlugins(): readonly string[] {
  return [...loaded];
}

/** What this thread's plugin modules were, in load order (see {@link PluginIdentity}); empty without plugins. */
export function pluginIdentities(): PluginIdentity[] {
  return loaded.map((url) => identities.get(url)).filter((p) => p !== undefined);
}

/** Kinds registered in this thread other than through a plugin module: worker threads cannot have them. */
export function threadOnlyKinds(): string[] {
  return pluginKinds().filter((k) => !fromModules.has(k));
}
