#!/usr/bin/env python3
"""tree_demo ends cleanly however it is asked to: a stop signal while it
serves its observer stops the tree in order and exits 0; a busy observer
port after the tree started exits 1 with the reason, never a crash.

  lifetime.py --demo PATH/tree_demo {signal_int,signal_term,busy_port}
"""

import argparse
import signal
import socket
import subprocess
import sys
import time

LIMIT = 60  # seconds: generous, it only proves that something happened


def fail(msg, out=""):
    print(f"FAILED: {msg}\n--- output ---\n{out}")
    sys.exit(1)


def read_until(proc, needle, deadline):
    """Reads the demo's stdout until a line contains `needle`."""
    seen = ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line
        if needle in line:
            return seen
    fail(f"no line with {needle!r} within {LIMIT} s", seen)


def signal_case(demo, sig):
    proc = subprocess.Popen([demo, "--observer", "0"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    deadline = time.monotonic() + LIMIT
    seen = read_until(proc, "press Enter to stop", deadline)
    proc.send_signal(sig)
    try:
        rest, _ = proc.communicate(timeout=LIMIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        fail(f"still running {LIMIT} s after signal {sig}", seen)
    seen += rest
    if proc.returncode != 0:
        fail(f"exit code {proc.returncode} after signal {sig}, expected 0",
             seen)
    if f"tree_demo: signal {int(sig)}, tree stopped" not in seen:
        fail("the demo did not say that the signal stopped its tree", seen)


def busy_port_case(demo):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        try:
            res = subprocess.run([demo, "--observer", str(port)],
                                 stdin=subprocess.DEVNULL,
                                 capture_output=True, text=True,
                                 timeout=LIMIT)
        except subprocess.TimeoutExpired:
            fail(f"still running {LIMIT} s with a busy observer port")
    out = res.stdout + res.stderr
    if res.returncode != 1:
        fail(f"exit code {res.returncode} with a busy port, expected 1", out)
    if "tree_demo: observer failed" not in out:
        fail("the demo did not say why it stopped", out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--demo", required=True)
    parser.add_argument("case",
                        choices=["signal_int", "signal_term", "busy_port"])
    args = parser.parse_args()
    if args.case == "signal_int":
        signal_case(args.demo, signal.SIGINT)
    elif args.case == "signal_term":
        signal_case(args.demo, signal.SIGTERM)
    else:
        busy_port_case(args.demo)
    print(f"{args.case}: passed")


if __name__ == "__main__":
    main()
