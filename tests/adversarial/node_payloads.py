#!/usr/bin/env python3
"""Peers that announce large payloads against trellis_node.

CAF 0.17.6 sizes a connection's read buffer to the payload a header
announces, zero-filled, before a byte of it arrives: peers that each
completed a handshake with a made-up node id (no authentication without TLS)
and announced 16 MiB with a byte behind it made the node hold 3 GB in 15 s,
and keep it after they left. Trellis reads a payload above 64 KiB a piece at
a time and gathers what arrives; what all connections gather together is
bounded (16 times the largest payload). Each case starts the node:

  large      messages of 64 KiB + 1, 4 MiB and nearly 16 MiB, sent at once
             and in pieces with pauses between: each is answered (CAF read it
             whole) and the connection stays open.
  announced  100 peers each announce 16 MiB and send a byte, then wait: the
             node's memory stays within a bound, a new peer is served.
  arriving   with --max-message-bytes=1048576 (16 MiB gathered at most), 24
             peers each send 960 KiB of a 1 MiB payload and wait: the peers
             past the bound are closed and reported (reason=
             arriving_payloads), the others finish their messages and are
             answered, a new peer is served.

    node_payloads.py --node build/samples/trellis_node CASE
"""

import argparse
import os
import select
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from node_nesting import (CONFIG_SERV, DIRECT_MESSAGE, NAMED_RECEIVER,  # noqa: E402
                          OUR_ACTOR, TIME_SCALE, Node, Peer, check, direct,
                          header, nested)
from procfs import rss_kib  # noqa: E402

MIB = 1 << 20
# AddressSanitizer keeps freed memory in its quarantine.
MEM_SCALE = 4 if TIME_SCALE > 1 else 1


def message(size):
    """A direct message to the config server of `size` bytes."""
    content = direct(nested(1, b"x" * (size - 64)))
    content = direct(nested(1, b"x" * (size - 64 + size - len(content))))
    check(len(content) == size, f"a message of {len(content)} bytes, not {size}")
    return content


def announce(peer, content, sent):
    """Sends the header of `content` and its first `sent` bytes."""
    peer.sock.sendall(header(DIRECT_MESSAGE, len(content), 1, OUR_ACTOR,
                             CONFIG_SERV, NAMED_RECEIVER) + content[:sent])


def closed_within(sock, seconds):
    """Whether the node closes `sock` within `seconds`; what it sends
    meanwhile (heartbeats) is read and dropped."""
    deadline = time.monotonic() + seconds
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([sock], [], [], left)[0]:
                return False
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True


def case_large(node):
    peer = Peer(node.port)
    for size in (64 * 1024 + 1, 4 * MIB, 16 * MIB - 1024):
        check(peer.ask(message(size)), f"{size} bytes at once: closed")
    # In pieces, with pauses: the node reads several pieces of each.
    content = message(4 * MIB)
    peer.requests += 1
    peer.sock.sendall(header(DIRECT_MESSAGE, len(content), peer.requests,
                             OUR_ACTOR, CONFIG_SERV, NAMED_RECEIVER))
    for i in range(0, len(content) - 1, 700 * 1024):
        peer.sock.sendall(content[i:i + 700 * 1024])
        time.sleep(0.05)
    check(peer.served(), "the message sent in pieces was not read whole")
    check("connection_refused" not in node.log(), "a message was refused")
    check(node.alive(), "the node died")
    peer.close()
    print("large: 64 KiB + 1, 4 MiB, 16 MiB - 1 KiB and 4 MiB in pieces served")


def case_announced(node):
    before = rss_kib(node.proc.pid)
    peers = []
    content = message(16 * MIB - 1024)
    for _ in range(100):
        p = Peer(node.port)
        announce(p, content, 1)
        peers.append(p)
    # The last one's header read too: a new peer is served after it.
    fresh = Peer(node.port)
    check(fresh.served(), "a new peer was not served")
    grown = rss_kib(node.proc.pid) - before
    bound = 64 * 1024 * MEM_SCALE
    print(f"announced: 100 peers announcing 16 MiB each; RSS grew by "
          f"{grown} KiB (bound {bound})")
    check(grown < bound, f"RSS grew by {grown} KiB, bound {bound}")
    check(node.alive(), "the node died")
    for p in peers + [fresh]:
        p.close()


def case_arriving(node):
    before = rss_kib(node.proc.pid)
    content = message(MIB - 1024)
    held, refused = [], 0
    for _ in range(24):
        p = Peer(node.port)
        announce(p, content, 960 * 1024)
        if closed_within(p.sock, 0.5 * TIME_SCALE):
            refused += 1
            p.close()
        else:
            held.append(p)
    grown = rss_kib(node.proc.pid) - before
    bound = 48 * 1024 * MEM_SCALE
    node.wait_for(lambda: "reason=arriving_payloads" in node.log(),
                  "a report of a peer closed for arriving payloads")
    print(f"arriving: {len(held)} held, {refused} closed; RSS grew by "
          f"{grown} KiB (bound {bound})")
    check(refused >= 24 - 17, f"only {refused} of 24 closed")
    check(held, "no peer could hold a payload")
    check(grown < bound, f"RSS grew by {grown} KiB, bound {bound}")
    # The held peers finish their messages; each is read whole.
    for p in held:
        p.sock.settimeout(20 * TIME_SCALE)
        p.sock.sendall(content[960 * 1024:])
        p.requests = 1
        check(p.served(), "a held peer's message was not read")
        p.close()
    fresh = Peer(node.port)
    check(fresh.served(), "a new peer was not served")
    check(node.alive(), "the node died")
    fresh.close()


def main():
    cases = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}
    parser = argparse.ArgumentParser()
    parser.add_argument("--node", required=True)
    parser.add_argument("case", choices=sorted(cases))
    args = parser.parse_args()
    # A peer in the middle of a payload can send no heartbeat: the held
    # ones must outlive the connection timeout.
    extra = (["--max-message-bytes=1048576", "--timeout-ms=120000"]
             if args.case == "arriving" else [])
    node = Node(args.node, *extra)
    try:
        cases[args.case](node)
    finally:
        node.stop()


if __name__ == "__main__":
    main()
