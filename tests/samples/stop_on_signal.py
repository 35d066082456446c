#!/usr/bin/env python3
"""A sample stops its tree in order on SIGINT and on SIGTERM, says so, and
exits 0: sent while it runs, once it printed its READY line.

  stop_on_signal.py --exe PATH [--arg ARG ...] --ready LINE {int,term}

The sample must print "<name>: signal <n>, tree stopped" (name: the
executable's), where <n> is the signal sent. READY must be a line the
sample prints while it waits for the signal with its tree running (most
samples: "<name>: lingering until a signal", with --arg=--linger): a
scenario that ends by itself may end before a signal sent during it comes.
"""

import argparse
import os
import signal
import subprocess
import sys
import time

LIMIT = 60  # seconds: generous, it only proves that something happened


def fail(msg, out=""):
    print(f"FAILED: {msg}\n--- output ---\n{out}")
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--exe", required=True)
    parser.add_argument("--arg", action="append", default=[])
    parser.add_argument("--ready", required=True)
    parser.add_argument("signal", choices=["int", "term"])
    args = parser.parse_args()
    sig = signal.SIGINT if args.signal == "int" else signal.SIGTERM
    name = os.path.basename(args.exe)
    proc = subprocess.Popen([args.exe] + args.arg, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    deadline = time.monotonic() + LIMIT
    seen = ""
    while args.ready not in seen:
        line = proc.stdout.readline()
        if not line or time.monotonic() > deadline:
            proc.kill()
            fail(f"no line with {args.ready!r} within {LIMIT} s", seen)
        seen += line
    proc.send_signal(sig)
    # Not communicate(): it would skip what readline() already buffered.
    # What comes after the signal is a few lines, well within a pipe's
    # buffer, so waiting before reading cannot block the sample.
    try:
        proc.wait(timeout=LIMIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        fail(f"still running {LIMIT} s after signal {int(sig)}",
             seen + proc.stdout.read())
    seen += proc.stdout.read()
    if proc.returncode != 0:
        fail(f"exit code {proc.returncode} after signal {int(sig)}, "
             "expected 0", seen)
    if f"{name}: signal {int(sig)}, tree stopped" not in seen:
        fail(f"{name} did not say that signal {int(sig)} stopped its tree "
             "(did it finish before the signal came?)", seen)
    print(f"{name} {args.signal}: passed")


if __name__ == "__main__":
    main()
