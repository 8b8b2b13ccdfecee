"""ProducerRing and ConsumerRing: copies, zero-copy views and their enforcement, waits, lifetimes."""

import array
import gc
import threading

import pytest

import ringside

pytestmark = pytest.mark.library


@pytest.fixture
def pair(region):
    with region.producer(0) as tx, region.consumer(0) as rx:
        yield tx, rx


def test_write_then_read_returns_the_same_bytes(pair):
    tx, rx = pair
    assert tx.write(b"hello") and tx.write(bytearray(b"world")) and tx.write(memoryview(b"!"))
    assert tx.write(array.array("I", [1, 2]))
    assert [rx.read(), rx.read(), rx.read()] == [b"hello", b"world", b"!"]
    assert rx.read() == array.array("I", [1, 2]).tobytes()
    assert rx.read() is None


def test_an_empty_record_round_trips(pair):
    tx, rx = pair
    assert tx.write(b"")
    view = rx.peek()
    assert view is not None and len(view) == 0
    rx.release()


def test_write_returns_false_when_the_ring_is_full(region):
    with region.producer(1) as tx, region.consumer(1) as rx:
        payload = b"x" * 1000
        written = 0
        while tx.write(payload):
            written += 1
        assert 50 < written < 70  # 64 KiB of 1008-byte records
        assert rx.read() == payload and rx.read() == payload  # room for the wrap's padding too
        assert tx.write(payload)


def test_write_of_a_record_that_can_never_fit_raises_too_large(pair):
    tx, _rx = pair
    with pytest.raises(ringside.TooLargeError, match="maximum payload"):
        tx.write(bytes(64 * 1024))


def test_a_role_held_by_a_live_handle_cannot_be_taken_twice(region, pair):
    with pytest.raises(ringside.BusyError):
        region.producer(0)


def test_peek_is_zero_copy_and_read_only(pair):
    tx, rx = pair
    tx.write(b"abcdef")
    view = rx.peek()
    assert view.readonly and view.format == "B" and bytes(view) == b"abcdef"
    with pytest.raises(TypeError):
        view[0] = 1
    assert bytes(rx.peek()) == b"abcdef"  # the same record until released
    rx.release()
    assert rx.peek() is None


def test_a_peeked_view_is_released_with_the_record(pair):
    tx, rx = pair
    tx.write(b"abc")
    view = rx.peek()
    rx.release()
    with pytest.raises(ValueError, match="released"):
        bytes(view)


def test_release_refuses_while_a_slice_of_a_view_is_alive_and_keeps_the_record(pair):
    tx, rx = pair
    tx.write(b"abcdef")
    kept = rx.peek()[1:3]
    with pytest.raises(ringside.ViewInUseError, match="still in use"):
        rx.release()
    assert bytes(kept) == b"bc"  # the memory was not handed back
    del kept
    rx.release()
    assert rx.read() is None


def test_peek_batch_returns_views_that_all_end_at_release(pair):
    tx, rx = pair
    for i in range(5):
        tx.write(bytes([i]) * 4)
    views = rx.peek_batch(3)
    assert [bytes(v) for v in views] == [bytes([i]) * 4 for i in range(3)]
    rx.release()
    assert all(_released(v) for v in views)
    assert len(rx.peek_batch()) == 2
    rx.release()
    assert rx.peek_batch() == []


def test_release_without_a_peek_raises(pair):
    _tx, rx = pair
    with pytest.raises(ringside.InvalidArgumentError, match="peek first"):
        rx.release()


def test_reserve_gives_a_writable_view_that_commit_publishes_and_ends(pair):
    tx, rx = pair
    first = tx.reserve(4)
    second = tx.reserve(3)
    first[:] = b"abcd"
    second[:] = b"xyz"
    assert rx.peek() is None  # nothing published before commit
    tx.commit()
    assert _released(first) and _released(second)
    assert rx.read() == b"abcd" and rx.read() == b"xyz"


def test_commit_refuses_while_an_export_of_a_reserved_view_is_alive(pair):
    tx, rx = pair
    view = tx.reserve(8)
    alias = memoryview(view)  # shares the memory but is not the view the ring tracks
    with pytest.raises(ringside.ViewInUseError):
        tx.commit()
    assert rx.peek() is None
    alias[:] = b"12345678"
    del alias
    tx.commit()
    assert rx.read() == b"12345678"


def test_write_after_reserve_commits_both_and_ends_the_reserved_view(pair):
    tx, rx = pair
    view = tx.reserve(1)
    view[0] = 65
    tx.write(b"B")
    assert _released(view)
    assert (rx.read(), rx.read()) == (b"A", b"B")


def test_commit_without_a_reservation_raises(pair):
    tx, _rx = pair
    with pytest.raises(ringside.InvalidArgumentError, match="reserve first"):
        tx.commit()


def test_reserve_returns_none_when_full_and_raises_when_it_can_never_fit(region):
    with region.producer(1) as tx:
        with pytest.raises(ringside.TooLargeError):
            tx.reserve(1 << 20)
        while tx.write(b"y" * 4000):
            pass
        assert tx.reserve(4000) is None


def test_read_into_copies_into_a_caller_buffer_and_reports_the_needed_size(pair):
    tx, rx = pair
    tx.write(b"0123456789")
    with pytest.raises(ringside.TooSmallError) as caught:
        rx.read_into(bytearray(4))
    assert caught.value.needed == 10
    with pytest.raises(ringside.TooSmallError):
        rx.read_into(None)  # a size query
    buffer = bytearray(16)
    assert rx.read_into(buffer) == 10 and buffer[:10] == b"0123456789"
    assert rx.read_into(buffer) is None


def test_read_frees_the_library_buffer(pair):
    tx, rx = pair
    tx.write(b"abc")
    before = ringside.allocation_count()
    assert rx.read() == b"abc"
    assert ringside.allocation_count() == before


def test_the_producer_cannot_use_consumer_calls_through_the_c_api(pair, lib):
    tx, _rx = pair
    import ctypes
    from ringside._api import rs_record
    assert lib.rs_ring_peek(tx.handle, ctypes.byref(rs_record())) == ringside.Result.ERR_INVALID_ARGUMENT
    assert not hasattr(tx, "peek")


def test_wait_readable_returns_false_on_timeout_and_true_when_a_record_arrives(pair):
    tx, rx = pair
    assert rx.wait_readable(0) is False
    threading.Timer(0.05, tx.write, args=(b"late",)).start()
    assert rx.wait_readable(5.0) is True
    assert rx.read() == b"late"


@pytest.mark.parametrize("kind", ["busy_spin", "spin_pause", "yield", "sleep", "futex", "hybrid"])
def test_write_wait_and_reserve_wait_wait_for_room_with_each_strategy(region, kind):
    strategy = ringside.WaitStrategy(kind, sleep_ns=100_000)
    with region.producer(1) as tx, region.consumer(1) as rx:
        tx.set_wait_strategy(strategy)
        rx.set_wait_strategy(strategy)
        while tx.write(b"z" * 4000):
            pass
        assert tx.write_wait(b"z" * 4000, 0.001) is False
        assert tx.reserve_wait(4000, 0) is None
        drainer = threading.Timer(0.05, lambda: [rx.read() for _ in range(3)])
        drainer.start()
        assert tx.write_wait(b"w" * 4000, 5.0) is True
        drainer.join()
        view = tx.reserve_wait(8, 5.0)
        view[:] = b"reserved"
        tx.commit()


def test_set_wait_strategy_rejects_an_eventfd_strategy_without_a_descriptor(pair):
    tx, _rx = pair
    with pytest.raises(ringside.InvalidArgumentError):
        tx.set_wait_strategy(ringside.WaitStrategy("eventfd"))
    tx.set_wait_strategy(None)


def test_wait_arm_and_disarm_announce_a_parked_consumer(pair):
    tx, rx = pair
    with ringside.EventFd() as efd:
        rx.set_wait_strategy(ringside.WaitStrategy("eventfd", eventfd=efd.fileno()))
        tx.set_wait_strategy(ringside.WaitStrategy("hybrid", peer_eventfd=efd.fileno()))
        assert rx.wait_arm() is False  # armed: nothing to read
        with pytest.raises(ringside.InvalidArgumentError, match="already armed"):
            rx.wait_arm()
        tx.write(b"wake")
        import os
        assert int.from_bytes(os.read(efd.fileno(), 8), "little") >= 1  # the producer wrote the eventfd
        rx.wait_disarm()
        with pytest.raises(ringside.InvalidArgumentError, match="not armed"):
            rx.wait_disarm()
        assert rx.wait_arm() is True  # ready now: nothing stays armed
        assert rx.read() == b"wake"
        rx.set_wait_strategy(None)
        tx.set_wait_strategy(None)


def test_ring_stats_name_the_role_and_count_records(pair):
    tx, rx = pair
    tx.write(b"a")
    assert tx.stats()["role"] == "producer" and rx.stats()["role"] == "consumer"
    assert rx.stats()["pending_records"] == 1


def test_dispatch_calls_on_event_on_this_thread_and_raises_the_first_exception_after(pair):
    tx, rx = pair
    seen = []
    for payload in (b"one", b"two", b"three"):
        tx.write(payload)
    assert rx.dispatch(seen.append, max_events=2, timeout=1.0) == 2
    assert seen == [b"one", b"two"]

    def fails(data):
        raise KeyError(data)
    with pytest.raises(KeyError):
        rx.dispatch(fails, timeout=1.0)
    assert rx.read() is None  # released anyway
    assert rx.dispatch(seen.append, timeout=0) == 0


def test_closing_a_ring_ends_its_views_and_a_second_close_does_nothing(region):
    tx = region.producer(0)
    rx = region.consumer(0)
    tx.write(b"kept")
    view = rx.peek()
    rx.close()
    rx.close()
    assert _released(view)
    with region.consumer(0) as again:
        assert again.read() == b"kept"  # peeked but unreleased records stay in the ring
    tx.close()


@pytest.mark.parametrize("call", ["write", "write_wait", "reserve", "reserve_wait", "commit", "stats",
                                  "set_wait_strategy", "wait_arm", "wait_disarm"])
def test_every_producer_call_after_close_raises_closed_error(region, call):
    tx = region.producer(0)
    tx.close()
    args = {"write": (b"x",), "write_wait": (b"x", 0), "reserve": (1,), "reserve_wait": (1, 0),
            "set_wait_strategy": (None,)}.get(call, ())
    with pytest.raises(ringside.ClosedError, match="ProducerRing is closed"):
        getattr(tx, call)(*args)


@pytest.mark.parametrize("call", ["peek", "peek_batch", "release", "read", "read_into", "wait_readable",
                                  "dispatch", "stats", "wait_arm"])
def test_every_consumer_call_after_close_raises_closed_error(region, call):
    rx = region.consumer(0)
    rx.close()
    args = {"read_into": (bytearray(4),), "wait_readable": (0,), "dispatch": (print,)}.get(call, ())
    with pytest.raises(ringside.ClosedError, match="ConsumerRing is closed"):
        getattr(rx, call)(*args)


def test_rings_dropped_without_close_are_destroyed_before_their_region(shm_name):
    region = ringside.Region.create(shm_name)
    region.producer(0)
    region.consumer(0)
    gc.collect()
    region.close()  # not busy: the collector destroyed both rings


def test_a_ring_keeps_its_region_object_alive(shm_name):
    ring = ringside.Region.create(shm_name).producer(0)
    gc.collect()
    assert ring.write(b"still mapped")
    region = ring.region
    ring.close()
    region.close()


def _released(view):
    try:
        len(view)
        return False
    except ValueError:
        return True
