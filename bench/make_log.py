#!/usr/bin/env python3
"""Creates a log file of an exact size for the tail benchmark.

    make_log.py PATH SIZE_BYTES            # ~100-byte numbered lines
    make_log.py PATH SIZE_BYTES --flat     # no newline at all

The content is written in 1 MiB blocks (lines repeat from block to block;
the tail only cares about newlines and size). The last byte of a lined file
is a newline.
"""

import sys

BLOCK = 1 << 20


def lined_block():
    out, n = [], 0
    size = 0
    while size < BLOCK:
        line = f"2026-01-01T00:00:00.000000Z step {n:09d} loss=0.{n % 9973:04d} " \
               f"lr=3e-4 tokens/s=12345.6 eta=01:23:45 {'.' * 16}\n"
        out.append(line)
        size += len(line)
        n += 1
    return "".join(out).encode()[:BLOCK]


def main():
    path, size = sys.argv[1], int(sys.argv[2])
    flat = "--flat" in sys.argv[3:]
    block = b"x" * BLOCK if flat else lined_block()
    with open(path, "wb") as f:
        left = size
        while left > 0:
            piece = block[: min(left, BLOCK)]
            f.write(piece)
            left -= len(piece)
        if not flat and size > 0:
            f.seek(size - 1)
            f.write(b"\n")


if __name__ == "__main__":
    main()
