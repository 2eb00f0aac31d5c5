import { loadScenario } from '../src/scenario/load.js';
import { simulate } from '../src/sim/world.js';
const l = loadScenario('/work/main/bench/scenarios/fleet100.yaml');
for (const d of [25_000, 125_000, 125_000]) {
  const sc = { ...l.base, duration: d };
  const t = performance.now();
  const r = simulate(sc, 1);
  const s = (performance.now() - t) / 1000;
  console.log(d, r.requests.total, s.toFixed(2), (r.requests.total / s / 1e6).toFixed(2), 'M/s', r.latency.mean(), r.eventsProcessed, process.resourceUsage().maxRSS);
}
