/** Indices of the endpoints a balancer may pick outside panic: healthy or degraded. */
import type { Endpoint } from '../../types.js';

export function healthyIndices(endpoints: readonly Endpoint[]): Int32Array {
  let n = 0;
  for (const e of endpoints) if (e.health !== 'unhealthy') n++;
  const out = new Int32Array(n);
  let k = 0;
  for (let i = 0; i < endpoints.length; i++) if (endpoints[i].health !== 'unhealthy') out[k++] = i;
  return out;
}
