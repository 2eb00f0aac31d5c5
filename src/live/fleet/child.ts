/**
 * The fleet's process: runs a Fleet for the parent (src/live/run.ts) over IPC, so the
 * backends' event loop is not the load generator's. Requests: `start` (config → addresses),
 * `callers` (the calling services' proxy ports), `go` (the run's time origin, as
 * performance.timeOrigin + performance.now() in ms), `stats`, `stop`.
 */
import { serveParent, type ChildRequest } from '../process.js';
import { Fleet, type CallerProxies, type FleetConfig } from './fleet.js';

let fleet: Fleet | undefined;

function need(): Fleet {
  if (!fleet) throw new Error('fleet not started');
  return fleet;
}

serveParent(
  {
    start: async (m: ChildRequest) => {
      if (fleet) throw new Error('fleet already started');
      fleet = new Fleet(m.config as FleetConfig);
      return fleet.listen();
    },
    callers: (m: ChildRequest) => need().setCallers(m.callers as CallerProxies),
    go: (m: ChildRequest) => need().go((m.origin as number) - performance.timeOrigin),
    stats: () => need().stats(),
  },
  async () => {
    await fleet?.close();
  },
);
