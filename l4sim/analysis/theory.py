"""Queueing results that are exact (or the published model), used as test oracles.

Domain notes, section 4. Notation: ``n`` threads (CPUs), mean think time
``z`` between a release and the next request, mean hold time ``s``; times in
cycles, rates per cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import fsum


@dataclass(frozen=True)
class LockPrediction:
    """Throughput, mean wait before the grant, and lock utilisation."""

    throughput: float  # acquisitions per cycle
    wait_mean: float  # cycles from request to grant
    utilization: float


def machine_repairman(n: int, z: float, s: float) -> LockPrediction:
    """M/M/1//N closed form: exponential think and hold, one FIFO server."""
    r = s / z
    terms = [1.0]
    for k in range(1, n + 1):
        terms.append(terms[-1] * (n - k + 1) * r)  # N!/(N-k)! r^k
    p0 = 1.0 / fsum(terms)
    utilization = 1.0 - p0
    throughput = utilization / s
    response = n / throughput - z
    return LockPrediction(throughput, response - s, utilization)


def mva(n: int, z: float, s: float) -> LockPrediction:
    """Exact mean value analysis: one FIFO exponential station plus think time."""
    queue = 0.0
    throughput = response = 0.0
    for population in range(1, n + 1):
        response = s * (1.0 + queue)
        throughput = population / (z + response)
        queue = throughput * response
    return LockPrediction(throughput, response - s, throughput * s)


def boyd_wickizer(n: int, a: float, s: float, c: float) -> float:
    """Throughput (per cycle) of the ticket-lock birth-death chain.

    State ``k`` = cores holding or waiting; arrivals ``(n - k) / a``; service
    rate ``1 / (s + c * k / 2)`` (every waiter re-reads the ticket word).
    With ``c = 0`` it is the machine-repairman queue.
    """
    weights = [1.0]
    for k in range(1, n + 1):
        weights.append(weights[-1] * ((n - k + 1) / a) * (s + c * k / 2))
    total = fsum(weights)
    return fsum(w * (n - k) / a for k, w in enumerate(weights)) / total


def queue_lock(n: int, a: float, s: float, c: float) -> float:
    """The same chain for a queue lock (MCS, CLH): a constant handoff ``c`` when contended."""
    weights = [1.0]
    for k in range(1, n + 1):
        weights.append(weights[-1] * ((n - k + 1) / a) * (s + (c if k > 1 else 0.0)))
    total = fsum(weights)
    return fsum(w * (n - k) / a for k, w in enumerate(weights)) / total


def fifo_wait_moments(n: int, z: float, s: float) -> tuple[float, float]:
    """First and second moment of the FIFO wait in M/M/1//N.

    By the arrival theorem a request finds the lock as the same system with
    ``n - 1`` threads sees it in steady state; with ``j`` ahead of it (the
    holder's residual hold is exponential too) it waits an Erlang(j, s):
    mean ``j s``, second moment ``j (j + 1) s^2``.
    """
    r = s / z
    terms = [1.0]
    for k in range(1, n):
        terms.append(terms[-1] * (n - k) * r)  # (n-1)!/(n-1-k)! r^k
    total = fsum(terms)
    first = fsum(p * j * s for j, p in enumerate(terms)) / total
    second = fsum(p * j * (j + 1) * s * s for j, p in enumerate(terms)) / total
    return first, second
