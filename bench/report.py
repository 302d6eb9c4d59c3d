#!/usr/bin/env python3
"""Turns the results of one bench/run.sh (a JSON-lines file) into the
Markdown tables of BENCHMARKS.md, with each target met or not (full runs
only: a smoke run's sizes say nothing about the targets).

    python3 bench/report.py target/bench-results/STAMP-full.jsonl [MORE.jsonl…]

Several files (e.g. a full run and a rerun of some sections with --only)
are read as one, the first file's machine line heading the report.
"""

import json
import sys


def load(paths):
    rows, load1 = [], None
    for line in (l for p in paths for l in open(p)):
        line = line.strip()
        if not line:
            continue
        r = json.loads(line)
        if r["kind"] == "load":
            load1 = r["load1"]
            continue
        r["load1"] = load1
        rows.append(r)
    return rows


def ms(x):
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def triple(v, fmt=ms):
    return " / ".join(fmt(x) for x in v)


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def main():
    rows = load(sys.argv[1:])
    by = lambda kind: [r for r in rows if r["kind"] == kind]
    machine = by("machine")[0]
    full = machine["mode"] == "full"
    print(f"Machine: {machine['cores']} cores ({machine['cpu']}), {machine['mem_gib']} GiB, "
          f"Linux {machine['kernel']}; jobctl {machine['commit']}; {machine['mode']} run.\n")
    verdicts = []

    tails = by("tail")
    if tails:
        print("### 1. Tail of 1000 lines vs log size (ms per request)\n")
        print(table(["figure", "n", "min", "median", "p99", "max", "load"],
                    [[r["label"], r["n"], ms(r["min_ms"]), ms(r["p50_ms"]), ms(r["p99_ms"]),
                      ms(r["max_ms"]), r["load1"]] for r in tails]))
        print()
        warm = [r for r in tails if r["label"].startswith("jobctl") and r["label"].endswith("warm")]
        cold = [r for r in tails if r["label"].startswith("jobctl") and r["label"].endswith("cold")]
        if warm:
            worst = max(warm, key=lambda r: r["p99_ms"])
            verdicts.append(("tail p99 ≤ 5 ms at every size (warm cache)",
                             f"worst p99 {ms(worst['p99_ms'])} ms ({worst['label']})",
                             worst["p99_ms"] <= 5))
        if cold:
            worst = max(cold, key=lambda r: r["p99_ms"])
            verdicts.append(("tail p99 ≤ 5 ms at every size (cold cache)",
                             f"worst p99 {ms(worst['p99_ms'])} ms ({worst['label']})",
                             worst["p99_ms"] <= 5))

    fol = by("followers")
    if fol:
        print("### 2. Followers while a job writes 10 MB/s (min / median / max over runs)\n")
        print(table(["figure", "runs × s", "requests", "errors", "p50 ms", "p99 ms", "req/s",
                     "api CPU % of a core", "api RSS max / VmHWM MiB", "load"],
                    [[r["label"], f"{r['runs']} × {r['duration_s']:g}", r["requests"], r["errors"],
                      triple(r["p50_ms"]), triple(r["p99_ms"]), triple(r["requests_per_s"], lambda x: f"{x:.0f}"),
                      triple(r["api_cpu_percent"], lambda x: f"{x:.0f}"),
                      f"{r['api_max_rss_mib']:.1f} / {r['api_hwm_mib']:.1f}", r["load1"]] for r in fol]))
        print()
        thousand = [r for r in fol if r["clients"] == 1000 and r["interval_s"] > 0]
        if thousand:
            r = thousand[0]
            verdicts.append(("1000 followers at 5 s: p99 ≤ 25 ms, no errors",
                             f"p99 {triple(r['p99_ms'])} ms (min/median/max), {r['errors']} errors",
                             r["p99_ms"][2] <= 25 and r["errors"] == 0))
        stress = [r for r in fol if r["interval_s"] == 0]
        if stress:
            best = max(stress, key=lambda r: r["requests_per_s"][1])
            verdicts.append(("stress ≥ 5000 requests/s",
                             f"best median {best['requests_per_s'][1]:.0f} req/s ({best['label']})",
                             best["requests_per_s"][1] >= 5000))
        rss = max(r["api_hwm_mib"] for r in fol)
        verdicts.append(("api RSS ≤ 64 MiB throughout", f"peak VmHWM {rss:.1f} MiB", rss <= 64))

    live = by("live")
    if live:
        print("### 3. Live latency: written by the job → returned by the api (ms per line)\n")
        print(table(["figure", "lines", "requests", "min", "median", "p99", "max", "load"],
                    [[r["label"], r["n"], r["requests"], ms(r["min_ms"]), ms(r["p50_ms"]),
                      ms(r["p99_ms"]), ms(r["max_ms"]), r["load1"]] for r in live]))
        print()
        worst = max(r["p99_ms"] for r in live)
        verdicts.append(("live latency ≤ 100 ms", f"worst p99 {ms(worst)} ms", worst <= 100))

    shell = by("overhead_shell")
    over = by("overhead")
    if shell or over:
        print("### 4. Worker overhead (seconds; min / median / max)\n")
        lines = [[r["label"], r["n"], triple([r["min_ms"] / 1e3, r["p50_ms"] / 1e3, r["max_ms"] / 1e3],
                                            lambda x: f"{x:.3f}"), r["load1"]] for r in shell]
        for r in over:
            lines.append([r["label"] + " — runtime (started_at→finished_at)", r["runs"],
                          triple(r["runtime_s"], lambda x: f"{x:.3f}"), r["load1"]])
            lines.append([r["label"] + " — submit→completed seen by a client", r["runs"],
                          triple(r["submit_to_completed_s"], lambda x: f"{x:.3f}"), r["load1"]])
        print(table(["figure", "runs", "min / median / max s", "load"], lines))
        print()
        if shell and over:
            base = shell[0]["p50_ms"] / 1e3
            ratio = over[0]["runtime_s"][1] / base
            print(f"Ratio of medians, jobctl runtime / shell redirect: {ratio:.3f}")
            if len(shell) > 1:
                synced = shell[1]["p50_ms"] / 1e3
                print(f"Ratio of medians, jobctl runtime / shell redirect + fdatasync: "
                      f"{over[0]['runtime_s'][1] / synced:.3f}")
            print()
            verdicts.append(("worker overhead ≤ 2 %", f"{(ratio - 1) * 100:+.1f} % (median runtime vs shell)",
                             ratio <= 1.02))

    claims = by("claims")
    if claims:
        print("### 5. Claim throughput: `true` jobs per second (min / median / max over runs)\n")
        print(table(["figure", "jobs × runs", "started→finished jobs/s", "submit→finished jobs/s", "load"],
                    [[r["label"], f"{r['jobs']} × {r['runs']}", triple(r["jobs_per_s"], lambda x: f"{x:.1f}"),
                      triple(r["e2e_jobs_per_s"], lambda x: f"{x:.1f}"), r["load1"]] for r in claims]))
        print()

    spawn, cpu = by("spawn_rate"), by("claims_cpu")
    if spawn or cpu:
        print("### 5b. Claim throughput beside the bare spawn rate (8 slots, `--gpus 0,1,2,3`, 0/1/2-GPU jobs; "
              "CPU ms per job)\n")
        lines = [[r["label"], f"{r['per_s']:.0f}", "", "", f"{r['cpu_ms_per_spawn_children']:.2f}", "",
                 f"{r['cpu_ms_per_spawn_with_python']:.2f} (with Python's)", r["load1"]] for r in spawn]
        lines += [[r["label"], triple(r["jobs_per_s"], lambda x: f"{x:.0f}"), f"{r['api_ms']:.2f}",
                  f"{r['worker_ms']:.2f}", f"{r['supervisors_and_jobs_ms']:.2f}", f"{r['postgres_ms']:.2f}",
                  f"{r['total_ms']:.2f}", r["load1"]] for r in cpu]
        print(table(["figure", "per s", "api", "worker", "supervisors + jobs", "PostgreSQL", "total CPU", "load"],
                    lines))
        print()

    lat = by("slurm_latency")
    thr = by("slurm_throughput")
    if lat or thr:
        print("### 6. Slurm executor vs Slurm alone (ms; jobs/s)\n")
        if lat:
            print(table(["path", "runs", "submit→running p50", "max", "end to end p50", "max", "load"],
                        [[r["label"], r["runs"], ms(r["submit_to_running"]["p50_ms"]),
                          ms(r["submit_to_running"]["max_ms"]), ms(r["end_to_end"]["p50_ms"]),
                          ms(r["end_to_end"]["max_ms"]), r["load1"]] for r in lat]))
            print()
        for r in thr:
            print(f"{r['jobs']} `true` jobs, first submit → all ended: jobctl {r['jobctl_jobs_per_s']:.1f} jobs/s, "
                  f"sbatch alone {r['sbatch_jobs_per_s']:.1f} jobs/s (load {r['load1']})\n")
    lists = by("list")
    if lists:
        print("### 7. GET /jobs over many jobs (ms per request, 100 jobs a page)\n")
        print(table(["figure", "n", "min", "median", "p99", "max", "load"],
                    [[r["label"] + (f" ({r['depth']} jobs in)" if r.get("depth") else ""), r["n"],
                      ms(r["min_ms"]), ms(r["p50_ms"]), ms(r["p99_ms"]), ms(r["max_ms"]), r["load1"]]
                     for r in lists]))
        print()
        worst = max((r for r in lists if not r.get("full_scan")), key=lambda r: r["p99_ms"])
        verdicts.append(("GET /jobs p99 ≤ 20 ms, first and deep pages, both stores",
                         f"worst p99 {ms(worst['p99_ms'])} ms ({worst['label']})",
                         worst["p99_ms"] <= 20))

    searches = by("search")
    greps = by("search_grep")
    if searches or greps:
        print("### 8. Search of a whole log: every request until next_after is null, vs grep -F -c (ms)\n")
        lines = [[r["label"], r["n"], ms(r["min_ms"]), ms(r["p50_ms"]), ms(r["max_ms"]), "", "", r["load1"]]
                 for r in greps]
        lines += [[r["label"], r["n"], ms(r["min_ms"]), ms(r["p50_ms"]), ms(r["max_ms"]),
                   f"{r['requests']} / {r['matches']}", f"{r['max_scanned_bytes'] / 1048576:.0f}",
                   r["load1"]] for r in searches]
        print(table(["figure", "runs", "min", "median", "max", "requests / lines",
                     "max MiB scanned per request", "load"], lines))
        print()
        for s_row, g_row in zip(searches, greps):
            ratio = s_row["p50_ms"] / g_row["p50_ms"]
            print(f"Ratio of medians, {s_row['label']} / {g_row['label']}: {ratio:.2f}\n")
            verdicts.append((f"search within 2× of grep ({s_row['label']})",
                             f"{ratio:.2f}× grep's median", ratio <= 2))
        if searches:
            most = max(r["max_scanned_bytes"] for r in searches)
            verdicts.append(("search never scans more than 64 MiB per request",
                             f"at most {most / 1048576:.1f} MiB", most <= 64 * 1048576))

    for r in by("skipped"):
        print(f"skipped: {r['label']}\n")

    failures = by("failure")
    if failures:
        print("FAILED: " + ", ".join(r["label"] for r in failures) + "\n")

    if full and verdicts:
        print("### Targets\n")
        print(table(["target", "measured", "met"],
                    [[t, m, "met" if ok else "**not met**"] for t, m, ok in verdicts]))
    elif verdicts:
        print("(smoke run: toy sizes, targets not judged)")


if __name__ == "__main__":
    main()
