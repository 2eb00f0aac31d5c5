/**
 * The fleet as a request/reply service (src/live/process.ts): `start` (config →
 * addresses), `callers` (the calling services' proxy ports), `go` (the run's time origin,
 * as performance.timeOrigin + performance.now() in ms), `stats`; `stop` closes it. Served
 * from a child process (./child.ts) or in-process (`meshsim live --layout single`).
 */
import type { ChildRequest, Service } from '../process.js';
import { Fleet, type CallerProxies, type FleetConfig } from './fleet.js';

export function fleetService(): Service {
  let fleet: Fleet | undefined;
  const need = (): Fleet => {
    if (!fleet) throw new Error('fleet not started');
    return fleet;
  };
  return {
    handlers: {
      start: async (m: ChildRequest) => {
        if (fleet) throw new Error('fleet already started');
        fleet = new Fleet(m.config as FleetConfig);
        return fleet.listen();
      },
      callers: (m: ChildRequest) => need().setCallers(m.callers as CallerProxies),
      go: (m: ChildRequest) => need().go((m.origin as number) - performance.timeOrigin),
      stats: () => need().stats(),
    },
    stop: async () => {
      await fleet?.close();
      fleet = undefined;
    },
  };
}
