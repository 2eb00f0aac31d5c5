/**
 * The proxies' process: runs every sidecar proxy of a live run (src/live/proxy, the same
 * algorithm objects the simulator drives) for the parent over IPC, apart from the load
 * generator's and the fleet's event loops. Requests: `start` (ProxyConfig[] → ports),
 * `stats` (ProxyStats[], in start order), `stop`.
 */
import { startProxy, type ProxyConfig, type ProxyHandle } from '../proxy/index.js';
import { serveParent, type ChildRequest } from '../process.js';

let proxies: ProxyHandle[] = [];

serveParent(
  {
    start: async (m: ChildRequest) => {
      if (proxies.length > 0) throw new Error('proxies already started');
      for (const config of m.configs as ProxyConfig[]) proxies.push(await startProxy(config));
      return proxies.map((p) => p.port);
    },
    stats: () => proxies.map((p) => p.stats()),
  },
  async () => {
    const all = proxies;
    proxies = [];
    await Promise.all(all.map((p) => p.close({ drainMs: 0 })));
  },
);
