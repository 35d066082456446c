#!/usr/bin/env python3
"""Measures kvstore against Debian's redis-server with redis-benchmark, in one
run on one machine, and prints a Markdown table (`./dev kvbench`).

    bench.py --server build/samples/kvstore [--requests N] [--rounds N]

--requests is per redis-benchmark run and test (default 200,000).

Every server gets the same redis-benchmark runs, pipelined (-P 16) and not,
in rounds that take turns between the servers; the table shows the median of
the rounds, so that a burst of other load on the machine hits all alike.
kvstore runs without chaos and with chaos crashing shards (only shards:
redis-benchmark exits as soon as one of its connections is closed, so
crashing connections would end the measurement, not slow it).
"""

import argparse
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402  (the Server helper)

TESTS = "ping_inline,set,get,incr,mset"
NAMES = ["PING_INLINE", "SET", "GET", "INCR", "MSET (10 keys)"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(port, requests, pipeline):
    res = subprocess.run(
        ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-q", "-n",
         str(requests), "-r", "100000", "-c", "50", "-P", str(pipeline), "-t", TESTS],
        capture_output=True, text=True, timeout=600)
    out = res.stdout + res.stderr
    rates = {}
    for name in NAMES:
        m = re.search(re.escape(name) + r": ([\d.]+) requests per second", out)
        rates[name] = float(m.group(1)) if m else None
    if res.returncode != 0:
        print(f"  redis-benchmark exited {res.returncode}: {out.strip()[-200:]}",
              file=sys.stderr)
    return rates


class RedisServer:
    def __init__(self):
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=e2e._die_with_parent)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)


def machine():
    def first(cmd, pattern):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True).stdout
        except OSError:
            return "?"
        m = re.search(pattern, out, re.M)
        return m.group(1).strip() if m else "?"
    model = first(["lscpu"], r"^Model name:\s*(.*)$")
    cpus = first(["lscpu"], r"^CPU\(s\):\s*(.*)$")
    mem = first(["free", "-g"], r"^Mem:\s*(\d+)")
    redis = first(["redis-server", "--version"], r"v=(\S+)")
    return (f"{model}, {cpus} CPUs, {mem} GiB RAM, Linux {platform.release()}, "
            f"redis-server {redis}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True)
    # Long enough to measure serving rather than connecting: 50,000 requests
    # took redis-server 50 to 70 ms with -P 16 on a quiet machine, in which
    # kvstore's 50 connection starts (each a supervised child) weighed.
    parser.add_argument("--requests", type=int, default=200000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chaos", type=float, default=10)
    args = parser.parse_args()
    e2e.SERVER = os.path.abspath(args.server)
    if not shutil.which("redis-server"):
        sys.exit("bench: redis-server is missing (./dev kvbench installs it)")

    load_before = os.getloadavg()[0]
    columns = ["redis-server", "kvstore", f"kvstore, chaos {args.chaos:g}/s"]
    runs = {}  # (pipeline, column) -> the rates of each round
    allocators = {}  # server -> INFO's mem_allocator
    for round_ in range(1, args.rounds + 1):
        for pipeline in (16, 1):
            def run(column, srv):
                print(f"bench: round {round_}, -P {pipeline}: {column}", file=sys.stderr)
                rates = measure(srv.port, args.requests, pipeline)
                server = column.split(",")[0]
                if server not in allocators:
                    allocators[server] = e2e.info(srv.port).get("mem_allocator", "?")
                runs.setdefault((pipeline, column), []).append(rates)
            with RedisServer() as srv:
                run(columns[0], srv)
            with e2e.Server() as srv:
                run(columns[1], srv)
            with e2e.Server("--chaos", str(args.chaos), "--chaos-targets",
                            "shards") as srv:
                run(columns[2], srv)
                crashes = e2e.info(srv.port)["chaos_crashed_shards"]
                print(f"bench:   {crashes} shard crashes", file=sys.stderr)

    def median(pipeline, column, name):
        xs = [r[name] for r in runs[pipeline, column] if r[name]]
        return statistics.median(xs) if xs else None

    print(f"Machine: {machine()}; load average {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after.")
    print("Allocators (INFO's mem_allocator): " + ", ".join(
        f"{server} {name}" for server, name in allocators.items()) + ".")
    print(f"redis-benchmark -q -n {args.requests} -r 100000 -c 50 -t {TESTS}; "
          f"requests per second, median of {args.rounds} rounds.\n")
    print("| test | pipeline | " + " | ".join(columns) + " |")
    print("| --- | ---: | " + " | ".join("---:" for _ in columns) + " |")
    for pipeline in (16, 1):
        for name in NAMES:
            cells = []
            for col in columns:
                rate = median(pipeline, col, name)
                cells.append(f"{rate:,.0f}" if rate else "failed")
            print(f"| {name} | {pipeline} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
