/**
 * What stops a run that would otherwise fill the machine's memory or never end: the most
 * requests one run may hold in flight, and the most events at one instant of simulated
 * time. Both end the run with a {@link RunLimitError}, which the CLI reports as bad input
 * (exit 2) naming the scenario file, the variant and the seed.
 */
import { RunStopError, type RunRef } from '../core/run-stop.js';

/**
 * At most this many requests, and as many attempts, in flight at once in one run:
 * 4,194,304. Their records take ~225 bytes a request (calls ~124, attempts ~100), so the
 * limit holds a run to about 0.9 GB of them (1.3 GB while the last doubling copies). A
 * stable system holds rate × latency in flight (Little's law: 1M requests/s at 50 ms is
 * 50,000), so only a service offered more than it can serve, with an unbounded queue (or
 * unbounded concurrency) and no timeout, gets here: its queue grows for as long as the run
 * lasts, until the machine runs out of memory. The run stops with a {@link RunLimitError}
 * naming that service instead.
 */
export const MAX_IN_FLIGHT = 1 << 22;

/**
 * At most this many events at one instant of simulated time: 50,000,000. Many events may
 * share an instant (a million closed-loop clients starting at 0, constant distributions),
 * but time that stops advancing is a loop: closed-loop clients whose think time can be 0,
 * answered at once without a network hop (a breaker overflow, no healthy upstream,
 * throttling), issue their next request at the same instant forever. The run stops instead.
 */
export const MAX_EVENTS_AT_ONE_TIME = 50_000_000;

/** A run stopped at one of the limits above: the scenario overloads a service nothing bounds, or its clock stopped. */
export class RunLimitError extends RunStopError {
  at(message: string, run: RunRef): RunLimitError {
    return new RunLimitError(message, run);
  }
}
