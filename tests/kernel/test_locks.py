import pytest

from l4sim.kernel.locks import Lock, LockOrderError, ensure_lock_order, in_lock_order


def test_global_before_object_and_ascending_addresses():
    sched = Lock("scheduler", rank=0)
    tlist = Lock("thread_list", rank=1)
    low = Lock("thread:a", address=0x100)
    high = Lock("thread:b", address=0x200)
    ensure_lock_order([], sched)
    ensure_lock_order([sched], tlist)
    ensure_lock_order([sched, tlist], low)
    ensure_lock_order([sched, tlist, low], high)
    assert in_lock_order(high, low, sched) == [sched, low, high]


@pytest.mark.parametrize(
    "held,new",
    [
        ("high", "low"),  # descending addresses
        ("low", "sched"),  # object lock before a global lock
        ("tlist", "sched"),  # globals out of rank
        ("low", "low"),  # the same lock twice
    ],
)
def test_order_violations_raise_and_name_both_locks(held, new):
    locks = {
        "sched": Lock("scheduler", rank=0),
        "tlist": Lock("thread_list", rank=1),
        "low": Lock("thread:a", address=0x100),
        "high": Lock("thread:b", address=0x200),
    }
    with pytest.raises(LockOrderError) as error:
        ensure_lock_order([locks[held]], locks[new])
    assert locks[new].name in str(error.value)
    if held != new:
        assert locks[held].name in str(error.value)


def test_in_lock_order_drops_duplicates():
    lock = Lock("thread:a", address=0x100)
    assert in_lock_order(lock, lock) == [lock]
