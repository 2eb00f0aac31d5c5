#!/usr/bin/env python3
"""100-instance fleet in SimPy 3, the peer model for meshsim's fleet100 benchmark.

100 instances, each a simpy.Resource(capacity=1) with a FIFO queue and
exponential service of mean 10 ms. One client group issues Poisson arrivals at
80% total utilisation (8 requests per ms). Each request (one process) picks an
instance uniformly at random, crosses a network hop (exponential, mean 0.2 ms),
waits and is served, and crosses a response hop (exponential, mean 0.2 ms)
back; the client records latency from issue to response.
Runs until N requests have completed; theory: mean latency
0.4 + 10/(1 - 0.8) = 50.4 ms.

Usage: fleet.py [N=200000] [SEED=1]
Prints one JSON line:
  {"model":"fleet100","requests":N,"wallSeconds":..,"requestsPerSec":..,"meanLatencyMs":..}
"""
import json
import random
import sys
import time

import simpy

INSTANCES = 100
SERVICE_MEAN_MS = 10.0
UTILISATION = 0.8
ARRIVAL_RATE = UTILISATION * INSTANCES / SERVICE_MEAN_MS  # 8 per ms
HOP_MEAN_MS = 0.2


def request(env, instances, rng, stats):
    issued = env.now
    instance = rng.choice(instances)
    yield env.timeout(rng.expovariate(1.0 / HOP_MEAN_MS))          # request hop
    with instance.request() as req:
        yield req
        yield env.timeout(rng.expovariate(1.0 / SERVICE_MEAN_MS))  # service
    yield env.timeout(rng.expovariate(1.0 / HOP_MEAN_MS))          # response hop
    stats["completed"] += 1
    stats["total_latency"] += env.now - issued
    if stats["completed"] == stats["target"]:
        stats["done"].succeed()


def client(env, instances, rng, stats):
    while True:
        yield env.timeout(rng.expovariate(ARRIVAL_RATE))
        env.process(request(env, instances, rng, stats))


def main(argv):
    n = int(argv[1]) if len(argv) > 1 else 200000
    seed = int(argv[2]) if len(argv) > 2 else 1
    if n < 1:
        raise SystemExit("N must be >= 1")
    rng = random.Random(seed)
    env = simpy.Environment()
    instances = [simpy.Resource(env, capacity=1) for _ in range(INSTANCES)]
    stats = {"completed": 0, "total_latency": 0.0, "target": n, "done": env.event()}
    env.process(client(env, instances, rng, stats))

    t0 = time.perf_counter()
    env.run(until=stats["done"])
    wall = time.perf_counter() - t0

    print(json.dumps({
        "model": "fleet100",
        "requests": stats["completed"],
        "wallSeconds": wall,
        "requestsPerSec": stats["completed"] / wall,
        "meanLatencyMs": stats["total_latency"] / stats["completed"],
    }))


if __name__ == "__main__":
    main(sys.argv)
