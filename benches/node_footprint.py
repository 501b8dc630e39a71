#!/usr/bin/env python3
"""Footprint of examples/node.rs in a 10-node cluster on loopback.

Starts N release-built `node` processes (LAN timings), joins them into one
cluster, lets it idle, then reads /proc for each process: threads, resident
memory, and CPU time used during the idle window. Prints a table and one
JSON summary line.

    cargo build --release --example node
    python3 benches/node_footprint.py [--nodes 10] [--idle 30] [--config lan]
"""
import argparse, json, os, subprocess, sys, time

def proc_stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime, seconds

def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return int(out["Threads"]), int(out["VmRSS"].split()[0]), int(out["VmHWM"].split()[0])

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=10)
    ap.add_argument("--idle", type=float, default=30.0)
    ap.add_argument("--config", default="lan")
    ap.add_argument("--bin", default="target/release/examples/node")
    args = ap.parse_args()
    procs, seed = [], None
    try:
        for i in range(args.nodes):
            cmd = [args.bin, "--name", f"fp-{i}", "--config", args.config]
            if seed:
                cmd += ["--join", seed]
            p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)
            ready = json.loads(p.stdout.readline())
            assert ready["ev"] == "ready", ready
            seed = seed or f"{ready['addr']}:{ready['port']}"
            procs.append(p)
        # Converged when the last node lists everyone.
        deadline = time.time() + 60
        while True:
            p = procs[-1]
            p.stdin.write("members\n"); p.stdin.flush()
            line = p.stdout.readline()
            while json.loads(line).get("ev") != "members":
                line = p.stdout.readline()
            if len(json.loads(line)["members"]) == args.nodes:
                break
            if time.time() > deadline:
                sys.exit("cluster did not converge")
            time.sleep(0.2)
        before = [proc_stat(p.pid) for p in procs]
        time.sleep(args.idle)
        after = [proc_stat(p.pid) for p in procs]
        rows = []
        for p, b, a in zip(procs, before, after):
            threads, rss, hwm = proc_status(p.pid)
            rows.append((threads, rss, hwm, 100.0 * (a - b) / args.idle))
        print(f"{'node':>6} {'threads':>8} {'rss KiB':>9} {'peak KiB':>9} {'idle CPU %':>11}")
        for i, (t, r, h, c) in enumerate(rows):
            print(f"{i:>6} {t:>8} {r:>9} {h:>9} {c:>11.3f}")
        summary = {
            "nodes": args.nodes, "config": args.config, "idle_s": args.idle,
            "threads_per_process": max(r[0] for r in rows),
            "rss_kib_mean": round(sum(r[1] for r in rows) / len(rows)),
            "rss_kib_max": max(r[1] for r in rows),
            "idle_cpu_pct_mean": round(sum(r[3] for r in rows) / len(rows), 3),
            "idle_cpu_pct_max": round(max(r[3] for r in rows), 3),
        }
        print(json.dumps(summary))
    finally:
        for p in procs:
            try:
                p.stdin.write("shutdown\n"); p.stdin.flush()
            except OSError:
                pass
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()

main()
