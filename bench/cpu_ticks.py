"""CPU seconds used so far by processes, from /proc (user + system).

    python3 bench/cpu_ticks.py PID...    # each PID: itself + its reaped children
                                         # + its live descendants (the same)
    python3 bench/cpu_ticks.py --postgres  # the postmaster + its reaped children
                                           # + every live postgres backend

Prints one JSON object {key: seconds}. Taken before and after a run, the
difference is what the run cost (children count once they are reaped:
the worker reaps its zygote or its job supervisors, the zygote its
supervisors, which reap their jobs; a live child, such as the worker's
zygote, counts with what it has reaped so far).
"""
import json
import os
import sys

HZ = os.sysconf("SC_CLK_TCK")


def stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    fields = text[text.rindex(")") + 2:].split()
    # fields[0] is field 3 (state): utime is field 14, cstime field 17.
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    ppid = int(fields[1])
    return utime, stime, cutime, cstime, ppid


def comm(pid):
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


def children():
    """{ppid: [pid, ...]} of every live process."""
    kids = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            kids.setdefault(str(stat(pid)[4]), []).append(pid)
        except OSError:
            continue
    return kids


def tree(pid, kids):
    """Seconds of pid, its reaped children and its live descendants."""
    try:
        u, s, cu, cs, _ = stat(pid)
    except OSError:
        return 0
    return u + s + cu + cs + sum(tree(k, kids) for k in kids.get(pid, []))


out = {}
if sys.argv[1:] == ["--postgres"]:
    total = 0
    pids = [p for p in os.listdir("/proc") if p.isdigit()]
    for pid in pids:
        try:
            if comm(pid) not in ("postgres", "postmaster"):
                continue
            u, s, cu, cs, ppid = stat(pid)
        except OSError:
            continue
        try:
            parent_is_pg = comm(ppid) in ("postgres", "postmaster")
        except OSError:
            parent_is_pg = False
        # The postmaster counts its reaped backends; live ones count alone.
        total += u + s + (0 if parent_is_pg else cu + cs)
    out["postgres"] = total / HZ
else:
    kids = children()
    for pid in sys.argv[1:]:
        u, s, cu, cs, _ = stat(pid)
        out[pid] = tree(pid, kids) / HZ
        out[pid + "_self"] = (u + s) / HZ
print(json.dumps(out))
