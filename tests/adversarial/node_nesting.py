#!/usr/bin/env python3
"""A peer that nests messages deep, or sends one CAF cannot read, against
trellis_node.

CAF 0.17.6 reads a message's values recursively (on a BASP worker thread):
one direct message of 40,000 nested messages (600 KB) overflowed its stack
and killed the node with SIGSEGV, nothing logged. Each case starts the node,
completes a client handshake with a made-up node id (accepted: no
authentication without TLS), sends a payload and checks what follows:

  deep      40,000 nested messages: the connection is refused and reported
            (reason=nesting_too_deep), the node stays up and takes a new peer.
  moderate  a short message, 3 nested messages, 1,000 messages side by
            side, and a message exactly at the limit: each is answered (CAF
            read it whole) and the connection stays open.
  unreadable  a 30-byte message holding a config_value of an unknown type
            tag (CAF 0.17.6 throws reading it, on a worker thread: the
            process ended): the connection is refused and reported
            (reason=unreadable_payload), the node stays up and takes a new
            peer.

    node_nesting.py --node build/samples/trellis_node CASE
"""

import argparse
import os
import socket
import struct
import subprocess
import threading
import time

TIME_SCALE = float(os.environ.get("TRELLIS_TEST_TIME_SCALE", "1"))
PATIENCE = 20 * TIME_SCALE
MAX_NESTING = 512  # node_config::max_message_nesting's default

# BASP: a 32-byte header (network byte order), then its payload.
SERVER_HANDSHAKE, CLIENT_HANDSHAKE, DIRECT_MESSAGE, HEARTBEAT = 0, 1, 2, 6
# The default node id implementation's atom, a process id and a host hash.
DEFAULT_NODE = bytes.fromhex("00003e9aab9bac79")
# A message id's request id bits (caf::message_id); an answer carries the
# request's.
REQUEST_ID = 0x0FFFFFFFFFFFFFFF
OUR_ACTOR = 7
NO_SUCH_ACTOR = 999999
# CAF's config server on every node, by name (header flag 1, the atom
# 'ConfigServ' as the receiver): it reads any message and answers a request
# it does not know with an error.
NAMED_RECEIVER = 1
CONFIG_SERV = 17542873753962589691


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def header(op, payload_len, data=0, src=0, dst=0, flags=0):
    return struct.pack(">BBBBIQQQ", op, 0, 0, flags, payload_len, data, src, dst)


def varint(n):
    out = b""
    while True:
        x, n = n & 0x7F, n >> 7
        if not n:
            return out + bytes([x])
        out += bytes([x | 0x80])


def text(s):
    b = s.encode() if isinstance(s, str) else s
    return varint(len(b)) + b


def msg_begin(types):
    """A caf::message's begin_object: type number 0, then its type names."""
    return b"\x00\x00" + text("@<>" + "".join("+" + t for t in types))


def nested(levels, inner=b""):
    """`levels` messages, each the only value of the one around it; the
    innermost holds one string, `inner`."""
    return msg_begin(["@message"]) * (levels - 1) + msg_begin(["@str"]) + text(inner)


def siblings(count):
    """One message holding `count` messages side by side, each one string."""
    return msg_begin(["@message"] * count) + (msg_begin(["@str"]) + text("x")) * count


def direct(content):
    """A direct message's payload: no stages, then the message."""
    return varint(0) + content


class Node:
    """A trellis_node process; its output (port line and log) is collected."""

    def __init__(self, exe, *args):
        self.proc = subprocess.Popen(
            [exe, "--port=0", "--heartbeat-ms=250", "--timeout-ms=4000", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self.port = None
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        self.wait_for(lambda: self.port is not None, "the node's port line")

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line)
                if line.startswith("trellis-node port="):
                    self.port = int(line.split("=")[1])
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_for(self, pred, what):
        with self.cond:
            ok = self.cond.wait_for(
                lambda: pred() or self.proc.poll() is not None, PATIENCE)
            check(ok and pred(), f"waited {PATIENCE:.0f} s for {what}; node "
                  f"exit status {self.proc.poll()}; it said: {self.log()[-2000:]}")

    def log(self):
        with self.cond:
            return "".join(self.lines)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.alive():
            self.proc.terminate()
        self.proc.wait(PATIENCE)


class Peer:
    """A connection that completed BASP's client handshake."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=PATIENCE)
        self.requests = 0
        op = self.read()[0]
        check(op == SERVER_HANDSHAKE, f"the node opened with operation {op}")
        nid = DEFAULT_NODE + struct.pack(">I", 4242) + os.urandom(20)
        self.sock.sendall(header(CLIENT_HANDSHAKE, len(nid), 3) + nid)

    def read_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError(f"closed after {len(buf)} of {n} bytes")
            buf += chunk
        return buf

    def read(self):
        op, _, _, _, plen, data, src, dst = struct.unpack(">BBBBIQQQ",
                                                          self.read_exact(32))
        return op, data, src, dst, self.read_exact(plen) if plen else b""

    def ask(self, content, dst=CONFIG_SERV):
        """Sends `content` as a request to `dst` and waits for the answer
        (an error, when the actor takes no such message or there is none),
        sending heartbeats meanwhile: True once answered, False if the node
        closed the connection instead."""
        self.requests += 1
        flags = NAMED_RECEIVER if dst == CONFIG_SERV else 0
        self.sock.sendall(header(DIRECT_MESSAGE, len(content), self.requests,
                                 OUR_ACTOR, dst, flags) + content)
        self.sock.settimeout(0.25)
        deadline = time.monotonic() + PATIENCE
        try:
            while time.monotonic() < deadline:
                try:
                    op, data, _, dst, _ = self.read()
                except socket.timeout:
                    self.sock.sendall(header(HEARTBEAT, 0))
                    continue
                if (op == DIRECT_MESSAGE and dst == OUR_ACTOR
                        and data & REQUEST_ID == self.requests):
                    return True
        except (EOFError, ConnectionResetError, BrokenPipeError):
            return False
        finally:
            self.sock.settimeout(PATIENCE)
        raise AssertionError(f"no answer to request {self.requests} and no "
                             f"closing within {PATIENCE:.0f} s")

    def served(self):
        """Whether the node answers a request to an actor it does not have:
        it read everything sent before."""
        return self.ask(direct(nested(1, b"probe")), NO_SUCH_ACTOR)

    def close(self):
        self.sock.close()


def refused(node, content, reason):
    """Sends `content` and checks that the node closes the connection and
    reports `reason`, stays up and serves a new peer."""
    peer = Peer(node.port)
    # To an actor that exists: CAF reads no message for an unknown one.
    check(not peer.ask(content), "the connection was not closed")
    node.wait_for(lambda: f"reason={reason}" in node.log(),
                  "the refusal's report")
    check(f"max_nesting={MAX_NESTING}" in node.log(), "the report names no limit")
    check(node.alive(), "the node died")
    fresh = Peer(node.port)
    check(fresh.served(), "a new peer was not served")
    check(node.alive(), "the node died")
    fresh.close()
    peer.close()


def case_deep(node):
    refused(node, direct(nested(40000)), "nesting_too_deep")
    print("deep: 40,000 levels refused; node up; a new peer served")


def case_unreadable(node):
    # A config_value's tag, then eight bytes: tag 30 is no type of its.
    content = direct(msg_begin(["@config_value"]) + b"\x1e" + bytes(8))
    check(len(content) < MAX_NESTING, "not short")
    refused(node, content, "unreadable_payload")
    print(f"unreadable: {len(content)} bytes refused; node up; a new peer served")


def case_moderate(node):
    peer = Peer(node.port)
    padding = b"x" * (2 * MAX_NESTING)
    payloads = {
        "short": direct(nested(1, b"hi")),
        "3 levels": direct(nested(3, padding)),
        "1,000 side by side": direct(siblings(1000)),
        "at the limit": direct(nested(MAX_NESTING, padding)),
    }
    for what, content in payloads.items():
        # The config server's answer means CAF read the message whole.
        check(peer.ask(content), f"{what}: the connection was closed")
    check("nesting_too_deep" not in node.log(), "a moderate message was refused")
    check(node.alive(), "the node died")
    peer.close()
    print("moderate: short, 3 levels, 1,000 side by side and 512 levels served")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--node", required=True)
    parser.add_argument("case", choices=["deep", "moderate", "unreadable"])
    args = parser.parse_args()
    node = Node(args.node)
    try:
        globals()["case_" + args.case](node)
    finally:
        node.stop()


if __name__ == "__main__":
    main()
