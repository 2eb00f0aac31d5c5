/**
 * Distribution specifications, resolved: every duration is in milliseconds.
 * Scenario files write them with units (`{ dist: lognormal, median: 20ms, p99: 150ms }`);
 * the scenario loader converts to these plain shapes.
 */
export type DistSpec =
  | { readonly dist: 'constant'; readonly value: number }
  | { readonly dist: 'uniform'; readonly min: number; readonly max: number }
  | { readonly dist: 'exponential'; readonly mean: number }
  /** Normal truncated at 0 (resampled until non-negative). */
  | { readonly dist: 'normal'; readonly mean: number; readonly stddev: number }
  /** Lognormal by median and 99th percentile (both ms). */
  | { readonly dist: 'lognormal'; readonly median: number; readonly p99: number }
  /** Lognormal by the mean and standard deviation of ln(value in ms). */
  | { readonly dist: 'lognormal'; readonly mu: number; readonly sigma: number }
  /** Pareto (type I): minimum `scale` ms, tail index `shape` (> 0). */
  | { readonly dist: 'pareto'; readonly scale: number; readonly shape: number }
  /** Uniform choice among the listed values (ms). */
  | { readonly dist: 'empirical'; readonly values: readonly number[] }
  /** Weighted mixture; weights need not sum to 1 (they are normalised). */
  | { readonly dist: 'mixture'; readonly of: readonly MixtureComponent[] };

export type MixtureComponent = DistSpec & { readonly weight: number };
