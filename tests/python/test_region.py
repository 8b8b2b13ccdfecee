"""Region: create/open/unlink, info and stats, lifetimes (with, double close, use after close)."""

import gc
import os

import pytest

import ringside
from ringside import Backing, Region

pytestmark = pytest.mark.library


def test_create_gives_a_region_whose_info_matches_the_options(shm_name):
    with Region.create(shm_name, ring_count=3, ring_capacity=8192, record_align=16) as region:
        info = region.info()
        assert (info.ring_count, info.ring_capacity, info.record_align) == (3, 8192, 16)
        assert info.is_creator and info.creator_alive and info.creator_pid == os.getpid()
        assert info.backing == Backing.SHM and info.max_payload < 8192
        assert region.name == shm_name and not region.closed


def test_create_without_a_name_makes_a_unique_one():
    with Region.create() as first, Region.create() as second:
        assert first.name != second.name and first.name.startswith("/ringside-py.")


def test_create_refuses_a_name_that_exists(region):
    with pytest.raises(ringside.AlreadyExistsError) as caught:
        Region.create(region.name)
    assert caught.value.code == ringside.Result.ERR_EXISTS
    assert caught.value.function == "rs_region_create" and caught.value.message


def test_create_rejects_impossible_options_with_the_library_message(shm_name):
    with pytest.raises(ringside.InvalidArgumentError, match="power of two"):
        Region.create(shm_name, ring_capacity=5000)


def test_open_attaches_to_a_region_created_elsewhere(region):
    with Region.open(region.name) as other:
        assert not other.info().is_creator
        assert other.info().epoch == region.info().epoch


def test_open_of_a_missing_name_raises_not_found(shm_name):
    with pytest.raises(ringside.NotFoundError):
        Region.open(shm_name)


def test_unlink_removes_a_kept_name_and_reports_whether_there_was_one(shm_name):
    Region.create(shm_name, keep_on_destroy=True).close()
    assert os.path.exists("/dev/shm" + shm_name)
    assert Region.unlink(shm_name) is True
    assert Region.unlink(shm_name) is False


def test_unlink_rejects_an_invalid_name():
    with pytest.raises(ringside.InvalidArgumentError):
        Region.unlink("no-leading-slash/and/slashes")


def test_file_backing_creates_flushes_and_removes_its_file(tmp_path):
    path = str(tmp_path / "region.bin")
    with Region.create(path, backing="file", ring_capacity=4096) as region:
        region.flush()
        assert region.info().backing == Backing.FILE and os.path.exists(path)
    assert not os.path.exists(path)


def test_stats_and_ring_stats_are_json_from_library_strings_that_are_freed(region):
    before = ringside.allocation_count()
    stats = region.stats()
    assert stats["name"] == region.name and stats["ring_count"] == 2
    ring = region.ring_stats(1)
    assert ring["role"] == "observer" and ring["index"] == 1
    assert ringside.allocation_count() == before  # rs_string_free ran for both


def test_ring_stats_of_a_ring_that_does_not_exist_raises(region):
    with pytest.raises(ringside.InvalidArgumentError, match="ring index"):
        region.ring_stats(7)


def test_closing_a_region_with_a_ring_attached_raises_busy_and_keeps_it_open(region):
    ring = region.producer(0)
    with pytest.raises(ringside.BusyError, match="still has 1"):
        region.close()
    assert not region.closed
    region.info()
    ring.close()


def test_double_close_is_harmless_and_use_after_close_raises_closed_error(shm_name):
    region = Region.create(shm_name)
    region.close()
    region.close()
    assert region.closed
    for use in (region.info, region.flush, region.stats, lambda: region.ring_stats(0), lambda: region.producer(0)):
        with pytest.raises(ringside.ClosedError):
            use()
    with pytest.raises(ringside.ClosedError):
        with region:
            pass
    assert "closed" in repr(region)


def test_a_region_dropped_without_close_is_destroyed_by_the_collector(shm_name):
    before = ringside.allocation_count()
    Region.create(shm_name)
    gc.collect()
    assert ringside.allocation_count() == before
    assert not os.path.exists("/dev/shm" + shm_name)


def test_the_with_statement_destroys_even_when_the_block_raises(shm_name):
    with pytest.raises(KeyError):
        with Region.create(shm_name):
            raise KeyError("boom")
    assert not os.path.exists("/dev/shm" + shm_name)
