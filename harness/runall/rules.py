"""Which concrete scenarios cannot run, and why: a port of the runner's validate().

The runner (harness/runner/scenario_rules.cpp) has the last word; this copy
lets run_all.py reject a scenario file before anything is built, naming the
file and line. Rules here and there must say the same; when the runner adds
one, add it here too.
"""

import os

SPINNING = ("busy_spin", "spin_pause", "yield")
REALTIME = ("fifo", "rr")


def allowed_cpus():
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:
        return list(range(os.cpu_count() or 1))


def resolve(p, cpus):
    """Fill what depends on other fields and the machine, as the runner's resolve() does."""
    p = dict(p)
    if p["count"] == 0 and p["duration_s"] == 0:
        p["count"] = 100_000
    if p["transport"] == "processes":
        p["delivery"] = "ring"
    first = cpus[0] if cpus else 0
    second = cpus[1] if len(cpus) > 1 else first
    if p["placement"] == "different_cores":
        if p["host.cpu"] < 0:
            p["host.cpu"] = second if p["sidecar.cpu"] == first else first
        if p["sidecar.cpu"] < 0:
            p["sidecar.cpu"] = second if p["host.cpu"] == first else first
    elif p["placement"] == "same_core":
        if p["host.cpu"] < 0:
            p["host.cpu"] = p["sidecar.cpu"] if p["sidecar.cpu"] >= 0 else first
        if p["sidecar.cpu"] < 0:
            p["sidecar.cpu"] = p["host.cpu"]
    if p["queue"] in ("mutex_condvar", "floor_futex"):
        for side in ("host", "sidecar"):
            if p[f"{side}.wait.kind"] == "busy_spin":
                p[f"{side}.wait.kind"] = "native"
    return p


def _describe(p, prefix):
    policy = p[f"{prefix}.sched.policy"]
    if policy in REALTIME:
        return f"SCHED_{policy.upper()} {p[f'{prefix}.sched.priority']}"
    return f"SCHED_OTHER nice {p[f'{prefix}.sched.nice']}"


def _wait_reason(queue, transport, wait):
    if queue in ("ringside", "ringside_ring"):
        if wait == "native":
            return "ringside waits with its own strategies; native is for mutex_condvar and floor_futex"
        if wait == "eventfd" and transport == "processes":
            return "eventfd across processes needs fd passing, which the runner does not do yet"
        return None
    if queue in ("boost_spsc", "moodycamel_rwq", "floor_cacheline"):
        if wait in ("busy_spin", "spin_pause", "yield", "sleep"):
            return None
        return "this queue has no way to park a waiter: busy_spin, spin_pause, yield or sleep only"
    if queue == "tracer":  # the agent never waits and the drain thread parks on its own: the kind is ignored
        return None if wait != "native" else "native is for mutex_condvar and floor_futex"
    return None if wait == "native" else "this queue always blocks in the kernel: its wait kind is native"


def what_exists(p):
    """Reasons from combinations that do not exist (independent of the machine)."""
    out = []
    q = p["queue"]
    if q not in ("ringside", "ringside_ring") and p["transport"] == "processes":
        out.append(f"{q} is an in-process queue: transport must be threads "
                   "(cross-process figures are ringside's alone)")
    if q == "ringside_ring" and p["transport"] == "processes":
        out.append("ringside_ring is the bare-ring peer, in one process; use queue ringside for two processes")
    if q not in ("ringside", "ringside_ring") and p["backing"] != "shm":
        out.append(f"backing file applies to ringside only; {q} lives in process memory")
    if q == "tracer" and (p["transport"] != "threads" or p["backing"] != "shm" or p["load.mode"] != "throughput"
                          or p["host_kind"] != "cpp"):
        out.append("tracer is an emit workload in one process over shm: transport threads, backing shm, "
                   "load.mode throughput, host_kind cpp")
    if q != "ringside" and p["delivery"] != "vtable":
        out.append("delivery applies to queue ringside only")
    if q == "ringside" and p["transport"] == "processes" and p["delivery"] != "ring":
        out.append("the v-table delivers in one process only: two processes use delivery ring")
    if q in ("floor_cacheline", "floor_futex"):
        if p["payload_bytes"] != 8:
            out.append(f"{q} moves one 8-byte word: payload_bytes must be 8")
        if p["load.mode"] != "closed" or p["load.burst"] != 1:
            out.append(f"{q} holds one message per direction: load must be closed with burst 1")
    ring = p["ring_bytes"]
    if ring and (ring < 4096 or ring & (ring - 1)):
        out.append("ring_bytes must be a power of two, at least 4096")
    elif ring and p["payload_bytes"] + 64 > ring // 2:
        out.append(f"a {p['payload_bytes']}-byte record does not fit a ring of {ring} bytes "
                   "(at most half the ring): raise ring_bytes")
    if p["host_kind"] == "python":
        if q != "ringside" or p["transport"] != "threads" or p["backing"] != "shm":
            out.append("host_kind python drives queue ringside in one process over shm (transport threads, backing shm)")
        if p["load.mode"] != "closed":
            out.append("host_kind python runs closed loop only (load.mode closed)")
        if "eventfd" in (p["host.wait.kind"], p["sidecar.wait.kind"]):
            out.append("host_kind python: eventfd waits are not wired into the Python host")
    for side in ("host", "sidecar"):
        wait = p[f"{side}.wait.kind"]
        if q in ("mutex_condvar", "floor_futex") and wait == "busy_spin":
            continue  # the runner turns the default into native for these
        why = _wait_reason(q, p["transport"], wait)
        if why:
            out.append(f"{side}.wait.kind {wait} with {q}: {why}")
    if (p["count"] > 0) and (p["duration_s"] > 0):
        out.append("give exactly one of count and duration_s")
    if p["count"] + p["warmup"] >= 2**32 - 2:
        out.append("count + warmup must stay below 2^32 (32-bit sequence numbers)")
    if p["load.mode"] == "open" and p["load.rate_per_s"] <= 0:
        out.append("load.mode open needs load.rate_per_s > 0")
    if p["load.mode"] != "open" and p["load.rate_per_s"] != 0:
        out.append("load.rate_per_s applies to load.mode open only")
    if p["duration_s"] > 0 and p["timeout_s"] <= p["duration_s"] + 1:
        out.append("timeout_s must exceed duration_s + 1 s (start-up and drain run inside the watchdog too)")
    if p["patience_s"] >= p["timeout_s"]:
        out.append("patience_s must be below timeout_s")
    for role in ("host", "sidecar", "contention"):
        policy, prio, nice = (p[f"{role}.sched.{k}"] for k in ("policy", "priority", "nice"))
        if policy in REALTIME and not 1 <= prio <= 99:
            out.append(f"{role}.sched.priority must be 1..99 for {policy}")
        if policy not in REALTIME and prio != 0:
            out.append(f"{role}.sched.priority applies to fifo and rr only (use nice for other)")
        if policy in REALTIME and nice != 0:
            out.append(f"{role}.sched.nice applies to policy other only")
    if p["contention.threads"] == 0 and p["contention.cpus"]:
        out.append("contention.cpus given but threads is 0")
    return out


def scheduling(p, cpus):
    """Reasons from placement and real-time safety on this machine's CPUs (p is resolved)."""
    out = []
    listed = ",".join(map(str, cpus))
    if p["placement"] == "different_cores" and len(cpus) < 2:
        out.append(f"placement different_cores needs two CPUs; this process may use {len(cpus)}")
    for side in ("host", "sidecar"):
        cpu = p[f"{side}.cpu"]
        if cpu >= 0 and cpu not in cpus:
            out.append(f"{side}.cpu {cpu} is not one this process may use ({listed})")
        if p["placement"] == "unpinned" and cpu >= 0:
            out.append(f"{side}.cpu is set but placement is unpinned")
    if p["placement"] == "different_cores" and p["host.cpu"] == p["sidecar.cpu"] >= 0:
        out.append(f"placement different_cores but host.cpu and sidecar.cpu are both {p['host.cpu']}")
    if p["placement"] == "same_core" and p["host.cpu"] != p["sidecar.cpu"]:
        out.append(f"placement same_core but host.cpu {p['host.cpu']} differs from sidecar.cpu {p['sidecar.cpu']}")
    for cpu in p["contention.cpus"]:
        if cpu not in cpus:
            out.append(f"contention.cpus holds CPU {cpu}, not one this process may use ({listed})")
    rt_cpus = set()
    for side, peer in (("host", "sidecar"), ("sidecar", "host")):
        policy, wait, cpu = p[f"{side}.sched.policy"], p[f"{side}.wait.kind"], p[f"{side}.cpu"]
        if policy not in REALTIME or wait not in SPINNING:
            continue
        what = f"{side} is a {_describe(p, side)} {wait} spinner"
        if cpu < 0:
            out.append(f"{what} and unpinned: it could land on the CPU of the {peer} it waits for "
                       "and never let it run; pin it (placement different_cores)")
        elif cpu == p[f"{peer}.cpu"]:
            out.append(f"{what} on CPU {cpu}, the CPU of the {peer} it waits for: the {peer} never runs "
                       "(deadlock); use a parking wait (futex, hybrid, sleep) or different cores")
        else:
            rt_cpus.add(cpu)
    if p["contention.threads"] > 0 and p["contention.sched.policy"] in REALTIME:
        if not p["contention.cpus"]:
            out.append("real-time contention threads must be pinned (contention.cpus)")
        for cpu in p["contention.cpus"]:
            rt_cpus.add(cpu)
            for side in ("host", "sidecar"):
                outranks = (p[f"{side}.sched.policy"] in REALTIME
                            and p[f"{side}.sched.priority"] > p["contention.sched.priority"])
                side_cpu = p[f"{side}.cpu"]
                if (side_cpu == cpu or side_cpu < 0) and not outranks:
                    out.append(f"a {_describe(p, 'contention')} contention thread on CPU {cpu} starves the "
                               f"{side} ({_describe(p, side)}{', unpinned' if side_cpu < 0 else ''}): give the "
                               f"{side} a higher real-time priority or move the contention")
    if cpus and all(c in rt_cpus for c in cpus):
        out.append(f"real-time spinners would occupy every CPU ({listed}): leave one free for the system "
                   "and the watchdog")
    return out


def reasons(params, cpus=None):
    """Every reason this scenario cannot run here; empty when it can."""
    cpus = allowed_cpus() if cpus is None else cpus
    return what_exists(params) + scheduling(resolve(params, cpus), cpus)
