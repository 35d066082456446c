#!/usr/bin/env python3
"""Measures what forged peers cost a trellis_node: each completes BASP's
client handshake with a made-up node id (accepted: no authentication without
TLS), waits for the node's first message after it (the node learned the
"node"), and disconnects. The node's resident set (VmRSS) is printed after
each round, after a short settle.

CAF 0.17.6's BASP broker kept an actor per node it ever learned of
(`basp_broker::spawn_servers`), about 2.2 to 3.2 KB of RSS a forged peer for
good; Trellis' transport now drops it with the connection
(docs/distribution.md, "Hostile peers"). A measuring tool, not a test:
tests/adversarial/node_port.cpp checks the same with bounds.

    forged_peers.py --node build/samples/trellis_node [ROUND...]
    forged_peers.py --node ... --wrap "heaptrack -o /tmp/ht" 3000

ROUNDs are peer counts (default 2000 2000 2000 2000 2000). With --wrap, the
node runs under that command (heaptrack, valgrind --tool=massif) and the
figures are the node's own, found among the wrapper's children.
"""

import argparse
import os
import shlex
import struct
import subprocess
import sys
import threading
import time

# BASP's framing and handshake, as the nesting test speaks them.
from node_nesting import DEFAULT_NODE, Peer, direct, msg_begin  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "support"))
from procfs import rss_kib  # noqa: E402


def third_node_handles(count):
    """A message of `count` actor handles, each on a made-up node of its own
    (an actor id, then a node id as in the handshake)."""
    handle = b"".join(struct.pack(">Q", 1 + i) + DEFAULT_NODE
                      + struct.pack(">I", 4243) + os.urandom(20)
                      for i in range(count))
    return direct(msg_begin(["@actor"] * count) + handle)


def forged_peer(port, handles):
    """One peer: handshake with a random node id, one message (with
    `handles`, a request that names that many nodes besides its own, which
    CAF reads before the receiver refuses it), gone."""
    peer = Peer(port)
    try:
        peer.read()
        if handles:
            peer.ask(third_node_handles(handles))
    finally:
        peer.close()


def children(pid):
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            out += [int(x) for x in f.read().split()]
    return out


def node_pid(proc, exe, patience=20):
    """The node's own process: `proc` itself, or a descendant of a wrapper."""
    deadline = time.monotonic() + patience
    pid = proc.pid
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/cmdline") as f:
            if os.path.basename(exe) in f.read().split("\0")[0]:
                return pid
        kids = children(pid)
        if kids:
            pid = kids[-1]
        time.sleep(0.05)
    raise AssertionError("the node's process did not show up")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--node", required=True)
    ap.add_argument("--wrap", default="")
    ap.add_argument("--settle", type=float, default=2.0)
    ap.add_argument("--handles", type=int, default=0,
                    help="actor handles of made-up third nodes each peer sends")
    ap.add_argument("rounds", nargs="*", type=int,
                    default=[2000, 2000, 2000, 2000, 2000])
    args = ap.parse_args()
    proc = subprocess.Popen(
        shlex.split(args.wrap) + [args.node, "--port=0", "--heartbeat-ms=250",
                                  "--timeout-ms=4000"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    port = None
    for line in proc.stdout:
        if line.startswith("trellis-node port="):
            port = int(line.split("=")[1])
            break
    if port is None:
        raise AssertionError("the node printed no port")
    threading.Thread(target=lambda: [None for _ in proc.stdout],
                     daemon=True).start()
    pid = node_pid(proc, args.node)
    time.sleep(args.settle)
    base = rss_kib(pid)
    print(f"node pid {pid}, RSS {base} KiB", flush=True)
    total = 0
    try:
        for n in args.rounds:
            t0 = time.monotonic()
            for _ in range(n):
                forged_peer(port, args.handles)
            total += n
            took = time.monotonic() - t0
            time.sleep(args.settle)
            now = rss_kib(pid)
            print(f"{total} forged peers ({n} in {took:.1f} s): RSS {now} KiB, "
                  f"+{now - base} KiB, {(now - base) * 1024 / total:.0f} "
                  f"bytes a peer", flush=True)
    finally:
        os.kill(pid, 15)
        proc.wait(120)


if __name__ == "__main__":
    main()
