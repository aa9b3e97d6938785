"""The equivalence property as a test assertion (the comparison: l4sim.simulation.behaviour)."""

from l4sim.simulation.behaviour import by_pair, compare_behaviour

__all__ = ["assert_same_behaviour", "by_pair"]


def assert_same_behaviour(first: dict[str, list], second: dict[str, list]) -> int:
    """Assert the equivalence property; returns how many messages were compared.

    A difference names the receiver, the sender and the first message that differs.
    """
    compared, difference = compare_behaviour(first, second)
    assert difference is None, difference
    return compared
