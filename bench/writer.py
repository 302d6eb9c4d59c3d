#!/usr/bin/env python3
"""A job for the benchmarks: writes timestamped lines to stdout at a set rate.

Each line starts with the wall-clock time it was written (nanoseconds since
the epoch) and a sequence number, padded to --line-bytes:

    1767225600123456789 000000000042 xxxxxxxx…\n

so a reader can tell how long a line took to reach it. Run by a jobctl worker,
stdout is the job's log file itself; writes go straight to file descriptor 1.

    writer.py --bytes-per-sec 10000000 --seconds 60      # the 10 MB/s load
    writer.py --lines-per-sec 100 --seconds 20           # live latency
"""

import argparse
import os
import time


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    rate = p.add_mutually_exclusive_group(required=True)
    rate.add_argument("--bytes-per-sec", type=float)
    rate.add_argument("--lines-per-sec", type=float)
    p.add_argument("--line-bytes", type=int, default=100)
    p.add_argument("--ticks-per-sec", type=int, default=100,
                   help="writes per second; each writes the lines due by then")
    p.add_argument("--seconds", type=float, required=True)
    a = p.parse_args()

    lines_per_sec = a.lines_per_sec or a.bytes_per_sec / a.line_bytes
    ticks = min(a.ticks_per_sec, max(1, int(lines_per_sec)))
    pad = "x" * a.line_bytes
    start = time.monotonic()
    written = 0
    tick = 0
    while True:
        tick += 1
        due_at = start + tick / ticks
        if due_at - start > a.seconds:
            break
        delay = due_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        due = int(lines_per_sec * tick / ticks) - written
        if due <= 0:
            continue
        now = time.time_ns()
        # Each line is exactly --line-bytes long, newline included.
        block = "".join(
            (f"{now} {written + i:012d} " + pad)[: a.line_bytes - 1] + "\n"
            for i in range(due)
        ).encode()
        view = memoryview(block)
        while view:
            view = view[os.write(1, view):]
        written += due


if __name__ == "__main__":
    main()
