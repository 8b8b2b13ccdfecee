"""Progress of a run: a bar with counts, the current scenario and an ETA on a terminal; one line per run otherwise."""

import shutil
import sys
import time


def _clock(seconds):
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class Progress:
    """Tracks done/total and estimated seconds; the ETA scales the remaining estimate by how fast we went."""

    def __init__(self, total, estimate_s, stream=None, tty=None):
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self.total, self.estimate_s = total, max(estimate_s, 1e-9)
        self.done, self.done_estimate, self.failed = 0, 0.0, 0
        self.start = time.monotonic()
        self.current = ""
        self.current_estimate = 0.0
        self.current_start = self.start

    def eta(self):
        elapsed = time.monotonic() - self.start
        remaining = self.estimate_s - self.done_estimate
        pace = elapsed / self.done_estimate if self.done_estimate > 0 else 1.0
        return remaining * pace

    def begin(self, label, estimate_s):
        self.current, self.current_estimate = label, estimate_s
        self.current_start = time.monotonic()
        self.draw()

    def end(self, label, status, seconds, detail=""):
        self.done += 1
        self.done_estimate += self.current_estimate
        self.failed += status not in ("pass",)
        if self.tty:
            self._clear()
            if status != "pass":
                print(f"  {status.upper():7} {label} {detail}".rstrip(), file=self.stream, flush=True)
        else:
            print(f"[{self.done}/{self.total}] {status:7} {seconds:6.1f}s {label} {detail}".rstrip(),
                  file=self.stream, flush=True)
        self.draw()

    def draw(self):
        if not self.tty:
            return
        width = shutil.get_terminal_size((100, 20)).columns
        frac = min(1.0, self.done_estimate / self.estimate_s)
        bar_w = 24
        bar = "#" * int(frac * bar_w) + "-" * (bar_w - int(frac * bar_w))
        head = f"[{bar}] {self.done}/{self.total}"
        if self.failed:
            head += f" ({self.failed} not ok)"
        tail = f" ETA {_clock(self.eta())} "
        room = width - len(head) - len(tail) - 2
        label = self.current if len(self.current) <= room else "..." + self.current[-(room - 3):]
        self.stream.write("\r" + (head + tail + label)[:width - 1].ljust(width - 1))
        self.stream.flush()

    def tick(self):
        self.draw()

    def _clear(self):
        width = shutil.get_terminal_size((100, 20)).columns
        self.stream.write("\r" + " " * (width - 1) + "\r")

    def close(self):
        if self.tty:
            self._clear()
            self.stream.flush()
