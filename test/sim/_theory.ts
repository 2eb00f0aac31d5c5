/**
 * Queueing theory for the simulator's validation tests: Erlang B and C, M/M/1/K blocking,
 * and the asymptotic variance constants (σ² = lim n·Var(sample mean)) that turn a run of n
 * correlated customers into a standard error σ/√n.
 *
 * Variance constants come from the martingale (Poisson-equation) method (Whitt, "Planning
 * queueing simulations", Management Science 1989; Glynn, "Poisson's equation for the
 * recurrent M/G/1 queue", 1994): a customer average Σ h_i/n is rewritten, up to O(1)
 * boundary terms, as a martingale whose jumps H at arrivals (and departures) are explicit,
 * so σ² = (1/λ)·(rate of E[H²]). Nothing here is fitted to simulation output.
 */

/** Erlang B: blocking probability of M/M/c/c (any service distribution) at offered load a = λ/μ. */
export function erlangB(c: number, a: number): number {
  let b = 1;
  for (let k = 1; k <= c; k++) b = (a * b) / (k + a * b);
  return b;
}

/** Erlang C: probability an arrival waits in M/M/c, at offered load a = λ/μ < c. */
export function erlangC(c: number, a: number): number {
  const b = erlangB(c, a);
  return (c * b) / (c - a * (1 - b));
}

/**
 * Stationary distribution of the birth–death chain of M/M/c/cap (births λ while below
 * `cap`, deaths μ·min(k, c)); an infinite `cap` is truncated where the tail is < 1e-18.
 */
export function birthDeath(lambda: number, mu: number, c: number, cap: number): number[] {
  const w = [1];
  let total = 1;
  for (let k = 0; k < cap; k++) {
    const next = (w[k] * lambda) / (mu * Math.min(k + 1, c));
    w.push(next);
    total += next;
    if (cap === Infinity && k + 1 > c && next < 1e-18 * total) break;
  }
  return w.map((x) => x / total);
}

/**
 * Differences d(k) = g(k+1) − g(k) of the solution g of Poisson's equation −Qg = f − f̄ for
 * the birth–death chain: λ·π_k·d(k) = Σ_{j>k} π_j (f(j) − f̄) (a tail sum: stable).
 */
function poissonDifferences(pi: readonly number[], lambda: number, f: (k: number) => number): { d: number[]; mean: number } {
  const mean = pi.reduce((acc, p, k) => acc + p * f(k), 0);
  const d = new Array<number>(Math.max(0, pi.length - 1)).fill(0);
  let tail = 0;
  for (let k = pi.length - 1; k >= 1; k--) {
    tail += pi[k] * (f(k) - mean);
    d[k - 1] = tail / (lambda * pi[k - 1]);
  }
  return { d, mean };
}

/**
 * M/M/c (unbounded queue): mean time in system W and the asymptotic variance constant of
 * the customer-average time in system. Σ T_i = ∫N dt + O(1), and ∫(N − L)dt = M^g + O(1), so
 * Σ(T_i − W) is a martingale with jumps d(N) − W at arrivals (rate λ) and −d(N−1) at
 * departures (rate μ·min(N, c)): σ² = Σ_k π_k [λ(d(k) − W)² + μ_k d(k−1)²] / λ.
 * For c = 1 this is (1 + ρ)² / (μ²(1 − ρ)⁴).
 */
export function mmcSojourn(lambda: number, mu: number, c: number): { mean: number; sigma2: number } {
  const pi = birthDeath(lambda, mu, c, Infinity);
  const { d, mean: L } = poissonDifferences(pi, lambda, (k) => k);
  const W = L / lambda;
  let rate = 0;
  for (let k = 0; k < pi.length; k++) {
    const up = k < d.length ? d[k] : 0;
    const down = k >= 1 ? d[k - 1] : 0;
    rate += pi[k] * (lambda * (up - W) ** 2 + mu * Math.min(k, c) * down ** 2);
  }
  return { mean: W, sigma2: rate / lambda };
}

/**
 * M/M/c/cap: the fraction of arrivals blocked (= π_cap by PASTA) and its asymptotic variance
 * constant. Σ(1{N at arrival i = cap} − B) = λ∫(f − B)dt + ∫(f − B)dM^A with f = 1{N = cap},
 * a martingale with jumps λd(N)·1{N<cap} + f(N) − B at arrivals and −λd(N−1) at departures.
 */
export function blocking(lambda: number, mu: number, c: number, cap: number): { mean: number; sigma2: number } {
  const pi = birthDeath(lambda, mu, c, cap);
  const f = (k: number): number => (k === cap ? 1 : 0);
  const { d, mean: B } = poissonDifferences(pi, lambda, f);
  let rate = 0;
  for (let k = 0; k <= cap; k++) {
    const accepted = k < cap ? lambda * d[k] : 0;
    const down = k >= 1 ? lambda * d[k - 1] : 0;
    rate += pi[k] * (lambda * (accepted + f(k) - B) ** 2 + mu * Math.min(k, c) * down ** 2);
  }
  return { mean: B, sigma2: rate / lambda };
}

/**
 * M/D/1 with service time D at load ρ = λD: mean time in system D + ρD/(2(1 − ρ))
 * (Pollaczek–Khinchine) and the asymptotic variance constant of its customer average.
 * With V the workload an arrival finds (stationary, by PASTA), G(v) = v²/(2(1 − ρ)) solves
 * Poisson's equation for the workload process, and Σ(T_i − W) is a martingale with jumps
 * H = V − E V + λ(G(V + D) − G(V)) = V/(1 − ρ) (the constants cancel), so σ² = E[V²]/(1 − ρ)²
 * with E[V²] = 2E[V]² + λD³/(3(1 − ρ)).
 */
export function md1Sojourn(lambda: number, D: number): { mean: number; wait: number; sigma2: number } {
  const rho = lambda * D;
  const wait = (rho * D) / (2 * (1 - rho));
  const ev2 = 2 * wait * wait + (lambda * D ** 3) / (3 * (1 - rho));
  return { mean: D + wait, wait, sigma2: ev2 / (1 - rho) ** 2 };
}

/**
 * E_k/M/1 (interarrival times Erlang: k phases, each exponential with rate `phaseRate`):
 * the time in system is exponential with rate μ(1 − σ), where σ is the root in (0, 1) of
 * σ = (phaseRate / (phaseRate + μ(1 − σ)))^k (GI/M/1, Kleinrock vol. 1 §6.4). Returns its mean.
 */
export function ekm1Sojourn(k: number, phaseRate: number, mu: number): number {
  let s = 0.5;
  for (let i = 0; i < 10_000; i++) {
    const next = (phaseRate / (phaseRate + mu * (1 - s))) ** k;
    if (Math.abs(next - s) < 1e-15) break;
    s = next;
  }
  return 1 / (mu * (1 - s));
}
