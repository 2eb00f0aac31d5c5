#!/usr/bin/env python3
"""M/M/1 queue in SimPy 3, the peer model for meshsim's mm1 benchmark.

Poisson arrivals (rate LAMBDA per ms), exponential service (rate MU per ms),
one FIFO server (simpy.Resource capacity 1), one process per request.
Runs until N requests have completed; theory: mean time in system
1/(MU - LAMBDA) = 5 ms.

Usage: mm1.py [N=200000] [SEED=1]
Prints one JSON line:
  {"model":"mm1","requests":N,"wallSeconds":..,"requestsPerSec":..,"meanTimeInSystemMs":..}
"""
import json
import random
import sys
import time

import simpy

LAMBDA = 0.8  # arrivals per ms
MU = 1.0      # services per ms (mean service 1 ms)


def request(env, server, rng, stats):
    arrived = env.now
    with server.request() as req:
        yield req
        yield env.timeout(rng.expovariate(MU))
    stats["completed"] += 1
    stats["total_time"] += env.now - arrived
    if stats["completed"] == stats["target"]:
        stats["done"].succeed()


def source(env, server, rng, stats):
    while True:
        yield env.timeout(rng.expovariate(LAMBDA))
        env.process(request(env, server, rng, stats))


def main(argv):
    n = int(argv[1]) if len(argv) > 1 else 200000
    seed = int(argv[2]) if len(argv) > 2 else 1
    if n < 1:
        raise SystemExit("N must be >= 1")
    rng = random.Random(seed)
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    stats = {"completed": 0, "total_time": 0.0, "target": n, "done": env.event()}
    env.process(source(env, server, rng, stats))

    t0 = time.perf_counter()
    env.run(until=stats["done"])
    wall = time.perf_counter() - t0

    print(json.dumps({
        "model": "mm1",
        "requests": stats["completed"],
        "wallSeconds": wall,
        "requestsPerSec": stats["completed"] / wall,
        "meanTimeInSystemMs": stats["total_time"] / stats["completed"],
    }))


if __name__ == "__main__":
    main(sys.argv)
