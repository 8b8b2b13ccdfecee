"""Child processes: echo each command, run it in its own process group, stop it on Ctrl-C or a deadline."""

import os
import shlex
import signal
import subprocess
import sys
import threading
import time

from . import shm


class Interrupted(Exception):
    """Ctrl-C (SIGINT) or SIGTERM arrived; the current child has been stopped."""


_stop = threading.Event()
_children = set()   # Popen objects now running


def echo(cmd, env=None, stream=None):
    prefix = "".join(f"{k}={shlex.quote(str(v))} " for k, v in (env or {}).items())
    print(f"+ {prefix}{shlex.join(str(c) for c in cmd)}", file=stream or sys.stdout, flush=True)


def install_signal_handlers():
    """Ctrl-C and SIGTERM set a flag and stop the running children; the caller winds down."""
    def handler(signum, _frame):
        if _stop.is_set():  # a second Ctrl-C: no more waiting
            for proc in list(_children):
                _kill_group(proc, signal.SIGKILL)
            return
        _stop.set()
        print(f"\n{signal.Signals(signum).name}: stopping the running child and keeping partial results",
              file=sys.stderr, flush=True)
        for proc in list(_children):
            _kill_group(proc, signal.SIGTERM)
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def stopping():
    return _stop.is_set()


def check_interrupt():
    if _stop.is_set():
        raise Interrupted()


def _kill_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _stop_child(proc, grace=3.0):
    """SIGTERM to the group (the runner cleans up on it), then SIGKILL after `grace` seconds."""
    _kill_group(proc, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    _kill_group(proc, signal.SIGKILL)
    proc.wait()


def run(cmd, *, env=None, cwd=None, log=None, deadline=None, tee=False, quiet=False, tick=None):
    """Runs cmd to the end, the deadline (monotonic) or Ctrl-C.

    Output goes to `log` (a path) when given, echoed to the terminal too with
    `tee`; otherwise to the terminal. Returns (returncode or None when
    stopped, output text when captured by `log`, how it ended: "exited",
    "deadline" or "interrupted"). Regions in /dev/shm created by the child's
    processes are unlinked when it ends, however it ends.
    """
    if not quiet:
        echo(cmd, env)
    check_interrupt()
    out = open(log, "w", errors="replace") if log else None
    proc = subprocess.Popen([str(c) for c in cmd], cwd=cwd, start_new_session=True,
                            env=dict(os.environ, **{k: str(v) for k, v in env.items()}) if env else None,
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE if out else None,
                            stderr=subprocess.STDOUT if out else None,
                            text=True, errors="replace")
    _children.add(proc)
    watcher = shm.Watcher(proc.pid)
    pump = threading.Thread(target=_pump, args=(proc.stdout, out, tee), daemon=True) if out else None
    if pump:
        pump.start()
    ended = "exited"
    try:
        while True:
            try:
                proc.wait(timeout=0.25)
                break
            except subprocess.TimeoutExpired:
                watcher.poll()
                if tick:
                    tick()
                if _stop.is_set():
                    ended = "interrupted"
                    _stop_child(proc)
                    break
                if deadline is not None and time.monotonic() > deadline:
                    ended = "deadline"
                    _stop_child(proc)
                    break
    finally:
        _children.discard(proc)
        if proc.poll() is None:
            _stop_child(proc, grace=0)
        _kill_group(proc, signal.SIGKILL)  # grandchildren left in the group
        if pump:
            pump.join(timeout=5)
            out.close()
        watcher.cleanup()
    if _stop.is_set() and ended == "exited" and proc.returncode != 0:
        ended = "interrupted"  # it ended because the handler stopped it (SIGTERM: exit 143, or killed)
    rc = proc.returncode if ended == "exited" else None
    text = open(log, errors="replace").read() if log else ""
    return rc, text, ended


def _pump(stream, out, tee):
    for line in stream:
        out.write(line)
        if tee:
            sys.stdout.write(line)
            sys.stdout.flush()
    out.flush()
