"""python_host_round_trip(): the entry point a scenario runner will call for a `host = python` row."""

import json

import pytest

import ringside

pytestmark = pytest.mark.library


@pytest.mark.parametrize("delivery", ["vtable", "ring"])
@pytest.mark.parametrize("wait", ["futex", "busy_spin"])
def test_the_round_trip_driver_returns_json_ready_latency_numbers(delivery, wait):
    result = ringside.python_host_round_trip(payload_size=64, count=200, warmup=20, wait=wait, delivery=delivery)
    json.dumps(result)
    assert result["schema_version"] == 1 and result["host"] == "python"
    assert (result["delivery"], result["wait"], result["count"]) == (delivery, wait, 200)
    latency = result["round_trip_ns"]
    assert 0 < latency["min"] <= latency["p50"] <= latency["p99"] <= latency["max"]


def test_the_round_trip_driver_handles_the_largest_payload_of_the_scenarios():
    result = ringside.python_host_round_trip(payload_size=4096, count=50, warmup=5)
    assert result["payload_size"] == 4096


def test_the_round_trip_driver_rejects_an_unknown_wait_kind():
    with pytest.raises(KeyError):
        ringside.python_host_round_trip(count=1, wait="nap")
