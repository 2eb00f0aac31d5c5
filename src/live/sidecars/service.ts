/**
 * Every sidecar proxy of a live run (src/live/proxy, the same algorithm objects the
 * simulator drives) as a request/reply service: `start` (plugin modules to load, then
 * ProxyConfig[] → ports), `stats`
 * (ProxyStats[], in start order), `restart` (every proxy's algorithms afresh, after the
 * warm-up), `members` (a membership change: the listed proxies' endpoint sets become the
 * named upstreams); `stop` closes them. Served from a child process
 * (./child.ts) or in-process (`meshsim live --layout single`).
 */
import { loadPlugins } from '../../scenario/plugins.js';
import { startProxy, type ProxyConfig, type ProxyHandle } from '../proxy/index.js';
import type { ChildRequest, Service } from '../process.js';

export function sidecarsService(): Service {
  let proxies: ProxyHandle[] = [];
  return {
    handlers: {
      start: async (m: ChildRequest) => {
        if (proxies.length > 0) throw new Error('proxies already started');
        // The parent's --plugin modules (file URLs): a child process registers their kinds here.
        await loadPlugins((m.plugins as string[] | undefined) ?? []);
        for (const config of m.configs as ProxyConfig[]) proxies.push(await startProxy(config));
        return proxies.map((p) => p.port);
      },
      stats: () => proxies.map((p) => p.stats()),
      restart: () => {
        for (const p of proxies) p.restartPolicies();
        return true;
      },
      members: (m: ChildRequest) => {
        for (const i of m.proxies as number[]) proxies[i].setMembers(m.names as string[]);
        return true;
      },
    },
    stop: async () => {
      const all = proxies;
      proxies = [];
      await Promise.all(all.map((p) => p.close({ drainMs: 0 })));
    },
  };
}
