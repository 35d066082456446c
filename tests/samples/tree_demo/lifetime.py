#!/usr/bin/env python3
"""tree_demo ends cleanly with a busy observer port after the tree started:
it exits 1 with the reason, never a crash. (Stop signals: see
../stop_on_signal.py.)

  lifetime.py --demo PATH/tree_demo busy_port
"""

import argparse
import socket
import subprocess
import sys

LIMIT = 60  # seconds: generous, it only proves that something happened


def fail(msg, out=""):
    print(f"FAILED: {msg}\n--- output ---\n{out}")
    sys.exit(1)


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
                        choices=["busy_port"])
    args = parser.parse_args()
    busy_port_case(args.demo)
    print(f"{args.case}: passed")


if __name__ == "__main__":
    main()
