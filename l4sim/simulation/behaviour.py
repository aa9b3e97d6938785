"""The equivalence property: what threads observe is the same in two runs of one workload.

The paper's criterion for its fastpaths (LTP passes with them on and off),
here: per (receiver, sender), the messages received agree, one run's
sequence a prefix of the other's. Runs stop after a fixed number of measured
events, and how messages from different senders interleave legitimately
depends on timing; so does which threads got the CPU at all in a short run
(a fastpath's direct switch runs the partner next, the slowpath goes through
the ready queue), so a pair seen in only one run has nothing to compare.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

# what each thread saw of the messages it received (Message.observed), by thread name
Observed = tuple[Any, ...]
Observations = dict[str, list[Observed]]


def by_pair(observations: Observations) -> dict[tuple[str, str], list[Observed]]:
    """Per (receiver, sender): the messages in the order received."""
    pairs = defaultdict(list)
    for receiver, seen in observations.items():
        for message in seen:
            pairs[(receiver, message[1])].append(message)
    return pairs


def compare_behaviour(first: Observations, second: Observations) -> tuple[int, str | None]:
    """(messages compared, the first difference or None), per the property above.

    A difference names the receiver, the sender and the first message that differs.
    """
    a, b = by_pair(first), by_pair(second)
    compared = 0
    for pair in sorted(set(a) | set(b)):
        x, y = a.get(pair, []), b.get(pair, [])
        shorter = min(len(x), len(y))
        for i in range(shorter):
            if x[i] != y[i]:
                return compared, (
                    f"{pair[0]} from {pair[1]}: message {i + 1} is {x[i]} in "
                    f"the first run, {y[i]} in the second"
                )
        compared += shorter
    return compared, None
