/** Indices of the endpoints a balancer may pick outside panic: healthy or degraded. */
import type { Endpoint } from '../../types.js';

export function healthyIndices(endpoints: readonly Endpoint[]): Int32Array {
  const n = endpoints.length;
  const out = new Int32Array(n);
  let k = 0;
  for (let i = 0; i < n; i++) if (endpoints[i].health !== 'unhealthy') out[k++] = i;
  return k === n ? out : out.slice(0, k);
}
