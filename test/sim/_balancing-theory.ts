/**
 * Theory for the load-balancing validation tests (balancing.test.ts): the supermarket model
 * (join the shortest of d sampled queues) with its finite-n correction and run-to-run
 * variance, the E_k/M/1 queue's run-to-run variance, and consistent-hashing remap fractions.
 * Nothing here is fitted to simulation output.
 *
 * Supermarket model (Mitzenmacher, "The power of two choices in randomized load balancing",
 * IEEE TPDS 2001; Vvedenskaya, Dobrushin & Karpelevich 1996). n servers, exponential service
 * rate 1, Poisson arrivals at rate nλ; each arrival samples d servers uniformly WITH
 * replacement and joins the one with the fewest customers. With x_k the fraction of servers
 * holding ≥ k customers, the empirical measure is exactly a density-dependent Markov chain
 * (Kurtz): x_k gains 1/n at rate nλ(x_{k−1}^d − x_k^d) (an arrival's best sample has exactly
 * k − 1 iff all d samples have ≥ k − 1 but not all have ≥ k — exact for draws with
 * replacement, whatever n) and loses 1/n at rate n(x_k − x_{k+1}). Its drift f has the fixed
 * point x_k = λ^((d^k − 1)/(d − 1)), whence the limit time in system Σ_{k≥1} x_k / λ.
 *
 * Finite n, to first order (Gast & Van Houdt, "A refined mean field approximation",
 * SIGMETRICS 2018; Kurtz's linear noise approximation): E[x] = x* + V/n + o(1/n) with
 * V = −A⁻¹·½·Σ_{jl} ∂²f/∂x_j∂x_l·W_jl, A the Jacobian of f at x*, and W (the covariance of
 * √n(x − x*)) solving the Lyapunov equation AW + WAᵀ + Q = 0, Q = Σ_jumps ℓℓᵀ·rate (here
 * diagonal: every jump moves one coordinate). P2C's distinct pair changes the rates by
 * O(1/n): P(both samples ≥ k) = x_k(n·x_k − 1)/(n − 1) = x_k² − x_k(1 − x_k)/(n − 1), a drift
 * correction f₁/n that moves the fixed point by −A⁻¹f₁/n.
 *
 * Run-to-run variance: the customer average of the time in system is ∫Z dt / (arrivals), Z
 * the number in system, up to boundary terms. Integrating the linear noise approximation
 * dξ = Aξ dt + dM (ξ = √n(x − x*), M a martingale with covariance rate Q) gives
 * ∫ξ dt ≈ −A⁻¹M(t), so ∫Z dt − W·(arrivals) ≈ √n (uᵀM − W·M_A) with u = −A⁻ᵀ1 and M_A the
 * arrival martingale (rate λ, covariance a_k = λ(x_{k−1}^d − x_k^d) with M_k). Hence the
 * asymptotic variance constant (lim N·Var of the mean of N customers, as in _theory.ts) is
 * σ² = (uᵀQu − 2W·uᵀa + W²λ)/λ — exact for d = 1 (linear drift: n independent M/M/1), leading
 * order in 1/n otherwise.
 */
import { ringPosition, type HashRing } from '../../src/algorithms/balancing/ring-hash.js';

/** Gaussian elimination with partial pivoting on a dense row-major n×n matrix (small systems only). */
function solveDense(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const m = Float64Array.from(a);
  const x = Float64Array.from(b);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]) > Math.abs(m[p * n + c])) p = r;
    if (m[p * n + c] === 0) throw new Error('solveDense: singular matrix');
    if (p !== c) {
      for (let k = 0; k < n; k++) [m[c * n + k], m[p * n + k]] = [m[p * n + k], m[c * n + k]];
      [x[c], x[p]] = [x[p], x[c]];
    }
    const piv = m[c * n + c];
    for (let r = c + 1; r < n; r++) {
      const f = m[r * n + c] / piv;
      if (f === 0) continue;
      for (let k = c; k < n; k++) m[r * n + k] -= f * m[c * n + k];
      x[r] -= f * x[c];
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = x[r];
    for (let k = r + 1; k < n; k++) s -= m[r * n + k] * x[k];
    x[r] = s / m[r * n + r];
  }
  return x;
}

const transpose = (a: Float64Array, n: number): Float64Array => {
  const t = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t[j * n + i] = a[i * n + j];
  return t;
};

/** The limit (n → ∞) mean time in system of JSQ(d) in service times: Σ_{i≥1} λ^((d^i − d)/(d − 1)). */
export function supermarketLimit(lambda: number, d: number): number {
  let sum = 0;
  for (let i = 1; i < 64; i++) {
    const term = Math.pow(lambda, (Math.pow(d, i) - d) / (d - 1));
    sum += term;
    if (term < 1e-18) break;
  }
  return sum;
}

export interface SupermarketTheory {
  /** Fixed point x_k (k = 1..K) of the mean-field drift. */
  readonly x: Float64Array;
  /** Mean time in system as n → ∞ (service times). */
  readonly limit: number;
  /** Coefficient c of the first-order finite-n term: E[T] = limit + c/n + o(1/n). */
  readonly correction: number;
  /**
   * Asymptotic variance constant σ² of the customer-average time in system (service times²):
   * the mean of N customers has variance ≈ σ²/N whatever n (the n's cancel: n times the
   * customers per unit time, 1/√n the fluctuation of the per-server average).
   */
  readonly sigma2: number;
}

/**
 * JSQ(d) over n M/M/1 servers (service rate 1) at per-server load λ < 1, levels truncated at K
 * (x_K must be negligible). `distinctPair` (d = 2 only): the two samples are distinct servers
 * (P2C) instead of independent draws (Envoy's least request).
 */
export function supermarket(lambda: number, d: number, options: { readonly K?: number; readonly distinctPair?: boolean } = {}): SupermarketTheory {
  const K = options.K ?? 24;
  if (options.distinctPair && d !== 2) throw new RangeError('distinctPair needs d = 2');
  // Fixed point x_k = λ^((d^k − 1)/(d − 1)) (x_k = λ^k for d = 1); xs[0] = 1.
  const xs = new Float64Array(K + 2);
  xs[0] = 1;
  for (let k = 1; k <= K; k++) xs[k] = d === 1 ? Math.pow(lambda, k) : Math.pow(lambda, (Math.pow(d, k) - 1) / (d - 1));
  const x = xs.subarray(1, K + 1);
  let L = 0;
  for (let k = 1; k <= K; k++) L += xs[k];
  const W = L / lambda;

  // Jacobian A (K×K, index k−1 for level k), noise Q (diagonal), arrival covariances a.
  const A = new Float64Array(K * K);
  const Q = new Float64Array(K);
  const a = new Float64Array(K);
  for (let k = 1; k <= K; k++) {
    const i = k - 1;
    A[i * K + i] = -d * lambda * Math.pow(xs[k], d - 1) - 1;
    if (k >= 2) A[i * K + i - 1] = d * lambda * Math.pow(xs[k - 1], d - 1);
    if (k <= K - 1) A[i * K + i + 1] = 1;
    a[i] = lambda * (Math.pow(xs[k - 1], d) - Math.pow(xs[k], d));
    Q[i] = a[i] + (xs[k] - xs[k + 1]);
  }

  // Lyapunov AW + WAᵀ = −Q by Kronecker: (I⊗A + A⊗I) vec(W) = −vec(Q), W symmetric.
  let correction = 0;
  if (d > 1) {
    const m = K * K;
    const big = new Float64Array(m * m);
    for (let i = 0; i < K; i++) {
      for (let j = 0; j < K; j++) {
        const row = i * K + j; // W[i][j]
        // (AW)_ij = Σ_l A_il W_lj ; (WAᵀ)_ij = Σ_l W_il A_jl
        for (let l = 0; l < K; l++) {
          big[row * m + l * K + j] += A[i * K + l];
          big[row * m + i * K + l] += A[j * K + l];
        }
      }
    }
    const rhs = new Float64Array(m);
    for (let i = 0; i < K; i++) rhs[i * K + i] = -Q[i];
    const Wm = solveDense(big, rhs, m);
    // b_k = ½ Σ ∂²f_k/∂x_j∂x_l W_jl: only the diagonal second derivatives are nonzero.
    const b = new Float64Array(K);
    const h2 = (k: number): number => d * (d - 1) * lambda * Math.pow(xs[k], d - 2); // ∂²(λx^d)/∂x² at level k
    for (let k = 1; k <= K; k++) {
      const i = k - 1;
      b[i] = 0.5 * (-h2(k) * Wm[i * K + i] + (k >= 2 ? h2(k - 1) * Wm[(i - 1) * K + i - 1] : 0));
    }
    // The O(1/n) drift of the distinct pair: f₁_k = −λ[x_{k−1}(1 − x_{k−1}) − x_k(1 − x_k)].
    if (options.distinctPair) {
      for (let k = 1; k <= K; k++) b[k - 1] += -lambda * (xs[k - 1] * (1 - xs[k - 1]) - xs[k] * (1 - xs[k]));
    }
    const negB = b.map((v) => -v);
    const V = solveDense(A, negB, K); // A V = −b
    for (let i = 0; i < K; i++) correction += V[i];
    correction /= lambda; // mean number per server → time (Little)
  }

  // σ²: u = −A⁻ᵀ·1.
  const ones = new Float64Array(K).fill(-1);
  const u = solveDense(transpose(A, K), ones, K);
  let uQu = 0;
  let ua = 0;
  for (let i = 0; i < K; i++) {
    uQu += u[i] * u[i] * Q[i];
    ua += u[i] * a[i];
  }
  const v = uQu - 2 * W * ua + W * W * lambda;
  return { x: Float64Array.from(x), limit: W, correction, sigma2: v / lambda };
}

/**
 * Solves M x = b for a singular M-matrix M = −Q (Q an irreducible generator, row-major, n×n)
 * or its transpose, by Gaussian elimination without pivoting (stable: every proper principal
 * submatrix of an irreducible singular M-matrix is a nonsingular M-matrix, so the first n − 1
 * pivots are positive), dropping the last (redundant) equation and fixing x_{n−1} = `last`.
 * `lower`/`upper` are M's bandwidths (the elimination never leaves the band).
 */
function solveSingularBanded(mIn: Float64Array, b: Float64Array, n: number, lower: number, upper: number, last: number): Float64Array {
  const m = Float64Array.from(mIn);
  const y = Float64Array.from(b);
  for (let c = 0; c < n - 1; c++) {
    const piv = m[c * n + c];
    if (!(piv > 0)) throw new Error(`solveSingularBanded: pivot ${c} is ${piv}`);
    const rEnd = Math.min(n - 1, c + lower);
    const kEnd = Math.min(n - 1, c + upper);
    for (let r = c + 1; r <= rEnd; r++) {
      const f = m[r * n + c] / piv;
      if (f === 0) continue;
      for (let k = c; k <= kEnd; k++) m[r * n + k] -= f * m[c * n + k];
      y[r] -= f * y[c];
    }
  }
  const x = new Float64Array(n);
  x[n - 1] = last;
  for (let r = n - 2; r >= 0; r--) {
    let s = y[r];
    const kEnd = Math.min(n - 1, r + upper);
    for (let k = r + 1; k <= kEnd; k++) s -= m[r * n + k] * x[k];
    x[r] = s / m[r * n + r];
  }
  return x;
}

/**
 * E_k/M/1 (interarrival Erlang: k phases of rate `phaseRate`; exponential service rate μ):
 * the mean time in system and the asymptotic variance constant σ² of its customer average,
 * from the Markov chain (customers z ≤ zMax, arrival phase j) by the martingale method of
 * _theory.ts: Σ(T_i − W) = ∫Z dt − W·(arrivals) + O(1), a martingale plus a Poisson-equation
 * term, so σ² = Σ_s π_s Σ_{s'} q(s,s')·(h(s') − h(s) − W·1{arrival})² / λ with −Qh = z − W·r_A.
 * zMax must leave a negligible tail (the tail is σ^z for the GI/M/1 root σ).
 * σ² is also returned split into the jumps at phase advances (driven by the arrival stream)
 * and at departures: queues fed by one shared stream (round robin) have simultaneous phase
 * jumps, whose correlation the split lets a caller bound.
 */
export function ekm1Variance(k: number, phaseRate: number, mu: number, zMax: number): { mean: number; sigma2: number; sigma2Phases: number; sigma2Departures: number } {
  const n = (zMax + 1) * k;
  const id = (z: number, j: number): number => z * k + j;
  // Generator Q (row-major, dense storage, banded: upper 1, lower k).
  const Q = new Float64Array(n * n);
  const add = (from: number, to: number, rate: number): void => {
    Q[from * n + to] += rate;
    Q[from * n + from] -= rate;
  };
  for (let z = 0; z <= zMax; z++) {
    for (let j = 0; j < k; j++) {
      const s = id(z, j);
      if (j < k - 1) add(s, id(z, j + 1), phaseRate);
      else if (z < zMax) add(s, id(z + 1, 0), phaseRate); // arrival
      else add(s, id(z, 0), phaseRate); // arrival lost at the truncation (negligible mass)
      if (z > 0) add(s, id(z - 1, j), mu);
    }
  }
  const negQ = Q.map((v) => -v);
  // π: (−Q)ᵀπ = 0 (bandwidths swap), normalised.
  const pi = solveSingularBanded(transpose(negQ, n), new Float64Array(n), n, 1, k, 1);
  let total = 0;
  for (let s = 0; s < n; s++) total += pi[s];
  for (let s = 0; s < n; s++) pi[s] /= total;
  const lambda = phaseRate / k;
  let L = 0;
  for (let s = 0; s < n; s++) L += pi[s] * Math.floor(s / k);
  const W = L / lambda;
  // f(s) = z − W·(arrival rate out of s); π-mean 0 up to truncation.
  const f = new Float64Array(n);
  for (let s = 0; s < n; s++) f[s] = Math.floor(s / k) - (s % k === k - 1 ? W * phaseRate : 0);
  let fbar = 0;
  for (let s = 0; s < n; s++) fbar += pi[s] * f[s];
  for (let s = 0; s < n; s++) f[s] -= fbar;
  const h = solveSingularBanded(negQ, f, n, k, 1, 0);
  let phases = 0;
  let departures = 0;
  for (let s = 0; s < n; s++) {
    const z = Math.floor(s / k);
    const j = s % k;
    const up = j < k - 1 ? id(z, j + 1) : z < zMax ? id(z + 1, 0) : -1;
    if (up >= 0) phases += pi[s] * phaseRate * (h[up] - h[s] - (j === k - 1 ? W : 0)) ** 2;
    if (z > 0) departures += pi[s] * mu * (h[id(z - 1, j)] - h[s]) ** 2;
  }
  return { mean: W, sigma2: (phases + departures) / lambda, sigma2Phases: phases / lambda, sigma2Departures: departures / lambda };
}

/**
 * The fraction of the hash space whose owner changes between two Ketama rings (Envoy's ring
 * hash), exactly: the union of both rings' points cuts the circle into arcs on each of which
 * both lookups ("first point ≥ h", wrapping) are constant. `beforeIds[k]` / `afterIds[k]`
 * name host k of each ring. Points are compared on their high 53 bits, as picks are.
 */
export function ringRemapExact(before: HashRing, beforeIds: readonly string[], after: HashRing, afterIds: readonly string[]): number {
  const all = Float64Array.from(new Set([...before.keys, ...after.keys])).sort();
  const span = 2 ** 53;
  let moved = 0;
  for (let i = 0; i < all.length; i++) {
    const x = all[i];
    const prev = i === 0 ? all[all.length - 1] - span : all[i - 1];
    if (beforeIds[before.hosts[ringPosition(before, x)]] !== afterIds[after.hosts[ringPosition(after, x)]]) moved += x - prev;
  }
  return moved / span;
}

/**
 * Expected remap fraction, and its standard deviation over the hashing (points at iid uniform
 * positions), when host `removed` leaves a ring whose hosts had `before[id]` points and the
 * survivors then have `after[id]` ≥ before[id] points — Envoy rescales the ring to
 * ceil(minimumRingSize/n) points per host, so survivors GAIN points (their first before[id]
 * points are the same strings, hence the same hashes). Let X be the first point ≥ h of the
 * merged ring (old points ∪ new points, T_m in all): by exchangeability each merged point is X
 * with the same probability. X an old point of the removed host: the owner changes; an old
 * point of a survivor: it does not; a new point of survivor i: the owner becomes i, and was the
 * host of the next old point, i with probability before[i]/T. Hence
 *   E f = (before[removed] + Σ_i m_i·(1 − before[i]/T)) / T_m,   m_i = after[i] − before[i].
 * Given which merged points change ownership (K of them), f is a sum of K of the T_m Dirichlet
 * spacings: Var = K(T_m − K)/(T_m²(T_m + 1)); K's own variance is bounded by twice the
 * independent-indicator value (runs of new points share their next old point; new points are
 * ~10% of the ring, so runs average ~1.1 points).
 */
export function ringRemapTheory(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>, removed: string): { mean: number; sd: number } {
  let T = 0;
  for (const c of before.values()) T += c;
  let Tm = T;
  let changing = before.get(removed) ?? 0;
  let varK = 0;
  for (const [id, c2] of after) {
    const c = before.get(id) ?? 0;
    const m = c2 - c;
    if (m < 0) throw new RangeError(`host ${id} lost points (${c} → ${c2}); the formula assumes survivors only gain`);
    Tm += m;
    const pSame = c / T;
    changing += m * (1 - pSame);
    varK += m * pSame * (1 - pSame);
  }
  const mean = changing / Tm;
  const variance = (mean * (1 - mean)) / (Tm + 1) + (2 * varK) / (Tm * Tm);
  return { mean, sd: Math.sqrt(variance) };
}

/** Points per host of a ring, by host id (`ids[k]` names the ring's host k). */
export function ringCounts(ring: HashRing, ids: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>(ids.map((id) => [id, 0]));
  for (const k of ring.hosts) counts.set(ids[k], (counts.get(ids[k]) ?? 0) + 1);
  return counts;
}
