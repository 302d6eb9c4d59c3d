"""The machine's bare spawn rate: `sh -c 'echo …'` processes per second with
8 running at once (a Python subprocess loop per thread), and the CPU time
each one costs (the children's user + system time, from os.times()).

    python3 bench/spawn_rate.py [N] [CONCURRENCY]

Prints one JSON object.
"""
import json
import os
import subprocess
import sys
import threading
import time

n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
concurrency = int(sys.argv[2]) if len(sys.argv) > 2 else 8
left = n
lock = threading.Lock()


def loop():
    global left
    while True:
        with lock:
            if left == 0:
                return
            left -= 1
        subprocess.run(["sh", "-c", "echo spawned"], stdout=subprocess.DEVNULL, check=True)


before = os.times()
start = time.monotonic()
threads = [threading.Thread(target=loop) for _ in range(concurrency)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.monotonic() - start
after = os.times()
children = (after.children_user - before.children_user) + (after.children_system - before.children_system)
own = (after.user - before.user) + (after.system - before.system)
print(json.dumps({
    "spawns": n,
    "concurrency": concurrency,
    "per_s": round(n / elapsed, 1),
    "cpu_ms_per_spawn_children": round(children * 1e3 / n, 3),
    "cpu_ms_per_spawn_with_python": round((children + own) * 1e3 / n, 3),
}))
