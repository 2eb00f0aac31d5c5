/**
 * The error of a run that stopped because of its input, not of meshsim: the scenario
 * (RunLimitError, src/sim/limits.ts) or a plugin (BalancerContractError,
 * src/algorithms/registry.ts). The CLI reports it as bad input (exit 2) with no stack, and
 * runners re-throw it with the run it stopped and the scenario file named ({@link at}).
 */

/** Which run of a plan: a variant (index) and a seed. */
export interface RunRef {
  readonly variant: number;
  readonly seed: number;
}

export abstract class RunStopError extends Error {
  constructor(
    message: string,
    /** The run it stopped, once a runner knows it. */
    readonly run?: RunRef,
  ) {
    super(message);
    this.name = new.target.name;
  }

  /** The same kind of error, with `message` and the run it stopped. */
  abstract at(message: string, run: RunRef): RunStopError;
}
