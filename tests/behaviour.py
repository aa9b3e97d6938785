"""Comparing what threads observe across two runs of the same workload."""

from collections import defaultdict


def by_pair(observations: dict[str, list]) -> dict[tuple[str, str], list]:
    """Per (receiver, sender): the messages in the order received."""
    pairs = defaultdict(list)
    for receiver, seen in observations.items():
        for message in seen:
            pairs[(receiver, message[1])].append(message)
    return pairs


def same_behaviour(first: dict[str, list], second: dict[str, list]) -> None:
    """Assert the same messages per (receiver, sender), up to the shorter run's length.

    Runs stop after a fixed number of measured events, and how messages from
    different senders interleave legitimately depends on timing; so does which
    threads got the CPU at all in a short run (a fastpath's direct switch runs
    the partner next, the slowpath goes through the ready queue), so pairs seen
    in only one run are not compared.
    """
    a, b = by_pair(first), by_pair(second)
    common = set(a) & set(b)
    assert common, "the runs share no (receiver, sender) pair"
    for key in common:
        shorter = min(len(a[key]), len(b[key]))
        assert a[key][:shorter] == b[key][:shorter], key
