"""The Python host of ringside-runner's `host_kind = python` scenarios: `python3 -m ringside.runner_host --control-fd 3`.

Started by the runner (harness/runner/python_host.cpp), never by hand. It
drives the product path from Python through the ctypes binding: host thread
-> command ring -> sidecar (the library's echo processor) -> event back to
Python through the v-table (on the sidecar thread, which takes the GIL) or
the event ring (dispatch() on the host thread). The runner keeps every
figure: this process hands it raw samples and counts, and the runner's own
histogram and writers make the result, .hgrm and .hlog. Protocol, one JSON
object per message on the control socket (SOCK_SEQPACKET):

  runner -> host  {"scenario": {...}, "samples": PATH, "fault": {"kind": K, "seq": N} | null}
  host -> runner  {"ready": true, "pid": P, "host_tid": T, "sidecar_tid": T} or {"error": "..."}
  runner -> host  {"cmd": "run"}       (after reading what the OS granted both threads)
  host -> runner  {"done": {...}}      (samples in PATH: uint64 triples seq, sent_ns, reply_ns)
  runner -> host  {"cmd": "exit"}      (or the socket closes): stop the sidecar, exit

Times are time.perf_counter_ns(), i.e. CLOCK_MONOTONIC, the runner's clock in these runs.
"""

import argparse
import array
import json
import os
import platform
import socket
import statistics
import struct
import sys
import threading
import time

from ._api import Delivery, OnRefused, SchedPolicy
from .sidecar import SidecarHost
from .wait import WaitStrategy

PARKING = ("futex", "eventfd", "hybrid")
POLICIES = {"other": os.SCHED_OTHER, "fifo": os.SCHED_FIFO, "rr": os.SCHED_RR}
TAG_MULTIPLIER = 2654435761


def create_parser():
    parser = argparse.ArgumentParser(prog="python3 -m ringside.runner_host", description=__doc__.splitlines()[0])
    parser.add_argument("--control-fd", type=int, required=True, help="the runner's control socket")
    return parser


def tag_of(seq):
    """Bytes 4..7 of message `seq`: tells a message from one whose header was damaged."""
    return (seq * TAG_MULTIPLIER) & 0x7FFFFFFF


def thread_cost(tid):
    """The runner's ThreadCost of thread `tid` of this process, as cost_to_json writes it."""
    try:
        cpu_ns = time.clock_gettime_ns(((~tid) << 3) | 6)  # MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)
        with open(f"/proc/self/task/{tid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        switches = {}
        with open(f"/proc/self/task/{tid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"):
                    switches[key] = int(value)
        return {"valid": True, "cpu_ns": cpu_ns, "minor_faults": int(fields[7]), "major_faults": int(fields[9]),
                "voluntary_switches": switches.get("voluntary_ctxt_switches", 0),
                "involuntary_switches": switches.get("nonvoluntary_ctxt_switches", 0)}
    except (OSError, ValueError, IndexError):
        return {"valid": False}


def apply_host_sched(sched, cpu):
    """Applies the host's policy, priority, nice and CPU to this (the calling) thread; what was refused."""
    refused = []
    try:
        if cpu >= 0:
            os.sched_setaffinity(0, {cpu})
    except OSError as e:
        refused.append(f"affinity CPU {cpu}: {e.strerror}")
    try:
        policy = sched.get("policy", "other")
        os.sched_setscheduler(0, POLICIES[policy], os.sched_param(sched.get("priority", 0) if policy != "other" else 0))
        if policy == "other":  # as the runner's apply_sched: the nice asked for, also 0
            os.setpriority(os.PRIO_PROCESS, 0, sched.get("nice", 0))
    except OSError as e:
        refused.append(f"policy {sched.get('policy')}: {e.strerror}")
    return "; ".join(refused)


def strategy(own, peer):
    """The library's WaitStrategy for one side, told whether its peer may park (as the runner's library_strategy)."""
    return WaitStrategy(own["kind"], spin_limit=own.get("spin_limit", 4096), sleep_ns=own.get("sleep_ns", 1_000_000),
                        peer_may_park=peer["kind"] in PARKING)


def timer_costs():
    """(clock read, clock read + recording one sample) in ns: medians of 50 batches of 1000."""
    clock = time.perf_counter_ns
    reads, records = [], []
    for _ in range(50):
        start = clock()
        for _ in range(1000):
            clock()
        reads.append((clock() - start) / 1000)
        scratch = array.array("Q")
        start = clock()
        for seq in range(1000):
            scratch.extend((seq, start, clock()))
        records.append((clock() - start) / 1000)
    return statistics.median(reads), statistics.median(records)


class ReturnChecker:
    """Counts the return leg by sequence number: in order, gaps (lost), late (reordered), duplicates, corrupted."""

    def __init__(self):
        self.expected = 1
        self.missing = set()
        self.received = self.lost = self.duplicated = self.reordered = self.corrupted = 0

    def check(self, seq, intact):
        """True when the reply counts as a measured sample (intact, first arrival)."""
        self.received += 1
        if not intact:
            self.corrupted += 1
            if seq == self.expected:  # the header survived: the damaged message still holds its place
                self.expected += 1
            return False
        if seq == self.expected:
            self.expected += 1
        elif seq > self.expected:
            self.lost += seq - self.expected
            self.missing.update(range(self.expected, seq))
            self.expected = seq + 1
        elif seq in self.missing:
            self.missing.discard(seq)
            self.lost -= 1
            self.reordered += 1
        else:
            self.duplicated += 1
            return False
        return True

    def counts(self):
        return {"received": self.received, "lost": self.lost, "duplicated": self.duplicated,
                "reordered": self.reordered, "corrupted": self.corrupted}


class PythonHost:
    """One run of one scenario from the Python side (closed loop, `burst` messages per round)."""

    def __init__(self, scenario, fault):
        self.s = scenario
        self.fault = fault or {}
        self.payload = scenario["payload_bytes"]
        self.filler = bytes((i * 7 + 1) & 0xFF for i in range(self.payload))
        self.tail = self.filler[8:]
        self.checker = ReturnChecker()
        self.samples = array.array("Q")
        self.sent_at = {}
        self.replies = 0
        self.measuring = False
        self.warmup = scenario["warmup"]
        self.arrived = threading.Lock()
        self.arrived.acquire()
        self.waiting_for = 0
        self.measure_end = 0
        self.host = None
        self.vtable = scenario["delivery"] == "vtable"

    def on_event(self, data):
        done = time.perf_counter_ns()
        seq, tag = struct.unpack_from("<II", data)
        intact = len(data) == self.payload and tag == tag_of(seq) and data.endswith(self.tail)
        if self.checker.check(seq, intact) and self.measuring and seq > self.warmup:
            self.samples.extend((seq, self.sent_at.pop(seq, done), done))
            self.measure_end = done
        self.replies += 1
        if self.vtable and self.replies == self.waiting_for:
            self.arrived.release()

    def message(self, seq):
        message = bytearray(self.filler)
        struct.pack_into("<II", message, 0, seq, tag_of(seq))
        if self.fault.get("kind") == "corrupt" and seq == self.fault.get("seq"):
            message[-1] ^= 0x40
        return message

    def transmissions(self, step):
        """The sequence numbers step `step` puts on the wire, as the runner's --inject says."""
        kind, n = self.fault.get("kind"), self.fault.get("seq")
        if kind == "loss" and step == n:
            return []
        if kind == "dup" and step == n:
            return [step, step]
        if kind == "reorder" and step == n:
            return [step + 1, step]
        if kind == "reorder" and step == n + 1:
            return []
        return [step]

    def setup(self):
        s = self.s
        delivery = Delivery.VTABLE if s["delivery"] == "vtable" else Delivery.RING
        sidecar = s["sidecar"]
        cpus = [sidecar["cpu"]] if sidecar["cpu"] >= 0 else sorted(os.sched_getaffinity(0))
        policy = {"other": SchedPolicy.OTHER, "fifo": SchedPolicy.FIFO, "rr": SchedPolicy.RR}[sidecar["sched"]["policy"]]
        self.host_refused = apply_host_sched(s["host"]["sched"], s["host"]["cpu"])
        self.host = SidecarHost(self.on_event, ring_capacity=s["ring_bytes"], host_wait=strategy(s["host"]["wait"], sidecar["wait"]),
                                processor="echo", delivery=delivery, max_event_bytes=max(4096, self.payload),
                                command_wait=strategy(sidecar["wait"], s["host"]["wait"]),
                                event_wait=strategy(sidecar["wait"], s["host"]["wait"]), policy=policy,
                                priority=sidecar["sched"]["priority"], nice=sidecar["sched"]["nice"], cpus=cpus,
                                on_refused=OnRefused.DOWNGRADE if s["downgrade"] else OnRefused.FAIL,
                                thread_name="rs-sidecar")
        self.host.start()
        self.sidecar_tid = self.host.sidecar.sched().tid

    def wait_replies(self, count, patience_s):
        """Waits until `count` replies in all have come; False after patience_s without them."""
        if self.s["delivery"] == "vtable":
            # on_event released the lock once replies reached waiting_for (== count, set before the sends).
            return self.arrived.acquire(timeout=patience_s)
        deadline = time.monotonic() + patience_s
        while self.replies < count:
            if self.host.dispatch(64, max(0.0, deadline - time.monotonic())) == 0 and time.monotonic() >= deadline:
                return False
        return True

    def run(self):
        s = self.s
        clock = time.perf_counter_ns
        burst = s["load"]["burst"]
        by_count = s["count"] > 0
        last_step = self.warmup + s["count"]
        patience = s["patience_s"]
        step = sent = 0
        deadline = None
        start_cost = None
        measure_start = 0
        start_epoch = None
        error = None
        while error is None:
            if not self.measuring and step >= self.warmup:
                start_cost = (thread_cost(threading.get_native_id()), thread_cost(self.sidecar_tid))
                start_epoch = time.time()
                measure_start = clock()
                self.measuring = True
                if not by_count:
                    deadline = measure_start + int(s["duration_s"] * 1e9)
            if self.measuring and (step >= last_step if by_count else clock() >= deadline):
                break
            seqs = []
            for _ in range(burst):
                step += 1
                seqs += self.transmissions(step)
                if by_count and step >= last_step:
                    break
            if not seqs:
                continue
            self.waiting_for = sent + len(seqs)
            for seq in seqs:
                message = self.message(seq)
                self.sent_at[seq] = clock()
                if not self.host.send(message, patience):
                    error = f"the command ring stayed full for patience_s ({patience} s) at message {seq}"
                    break
                sent += 1
            if error is None and not self.wait_replies(self.waiting_for, patience):
                error = (f"no reply within patience_s ({patience} s): {sent - self.replies} unanswered, "
                         f"last sequence number {step}")
        end_cost = (thread_cost(threading.get_native_id()), thread_cost(self.sidecar_tid))
        stats = self.host.sidecar.stats()
        return {
            "error": error, "measure_start_ns": measure_start, "measure_end_ns": self.measure_end,
            "start_epoch_s": start_epoch, "last_seq": step, "transmissions": sent, "replies": self.replies,
            "measured": len(self.samples) // 3, "forward": {"received": stats.commands_processed},
            "echoed": stats.events_emitted, "return": self.checker.counts(),
            "cost": {"host": [start_cost[0] if start_cost else {"valid": False}, end_cost[0]],
                     "sidecar": [start_cost[1] if start_cost else {"valid": False}, end_cost[1]]},
            "sidecar_stats": self.host.sidecar.stats_dict(),
            "python": f"{platform.python_implementation()} {platform.python_version()}",
        }


def main(argv=None):
    args = create_parser().parse_args(argv)
    control = socket.socket(fileno=args.control_fd)

    def send(message):
        control.send(json.dumps(message).encode())

    def receive():
        data = control.recv(1 << 20)
        if not data:
            return {"cmd": "exit"}
        return json.loads(data)

    hello = receive()
    runner_host = PythonHost(hello["scenario"], hello.get("fault"))
    try:
        runner_host.setup()
    except Exception as e:  # noqa: BLE001 - reported to the runner, which fails the run with it
        send({"error": f"setting up the Python host: {type(e).__name__}: {e}"})
        return 1
    timer_cost, record_cost = timer_costs()
    send({"ready": True, "pid": os.getpid(), "host_tid": threading.get_native_id(),
          "sidecar_tid": runner_host.sidecar_tid, "host_refused": runner_host.host_refused,
          "timer_cost_ns": timer_cost, "record_cost_ns": record_cost})
    status = 1
    with runner_host.host:
        if receive().get("cmd") == "run":
            try:
                report = runner_host.run()
                with open(hello["samples"], "wb") as f:
                    runner_host.samples.tofile(f)
                send({"done": report})
                status = 0
            except Exception as e:  # noqa: BLE001 - as above
                send({"error": f"the Python host failed: {type(e).__name__}: {e}"})
            receive()
        runner_host.host.stop()
    return status


if __name__ == "__main__":
    sys.exit(main())
