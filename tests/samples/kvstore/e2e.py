#!/usr/bin/env python3
"""End-to-end tests of the kvstore sample.

Each case starts the server on a free port, drives it with redis-cli,
redis-benchmark or raw sockets, and stops it. The server is killed whatever
happens: by the case's `with` block, and by the kernel should this script
die first (PR_SET_PDEATHSIG).

    e2e.py --server build/samples/kvstore CASE
"""

import argparse
import ctypes
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "support"))
from procfs import rss_kib  # noqa: E402

SERVER = None
ALLOCATOR = None  # what INFO must name, if given
# Instrumented builds (./dev sanitize, ./dev coverage) are slower: every time
# limit of this script is scaled by this factor.
TIME_SCALE = float(os.environ.get("TRELLIS_TEST_TIME_SCALE", "1"))


# -- the server -----------------------------------------------------------------

def _die_with_parent():
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Server:
    """A kvstore process on a free port; a context manager that kills it."""

    def __init__(self, *args, expect_start=True, wrap=()):
        # wrap: a command that execs the server, such as prlimit.
        self.args = [*wrap, SERVER, "--port", "0", "--log-level", "error", *args]
        self.proc = subprocess.Popen(
            self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, preexec_fn=_die_with_parent)
        self.port = None
        self.stderr = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        if expect_start:
            line = self.proc.stdout.readline()
            m = re.match(r"kvstore: listening on 127\.0\.0\.1:(\d+)$", line.strip())
            if not m:
                self.kill()
                raise AssertionError(f"no listening line, got {line!r}; "
                                     f"stderr: {''.join(self.stderr)}")
            self.port = int(m.group(1))

    def _drain_stderr(self):
        for line in self.proc.stderr:
            self.stderr.append(line)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()

    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        if self.alive():
            self.proc.kill()
        self.proc.wait()

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Signals the server and returns (exit code, rest of stdout)."""
        self.proc.send_signal(sig)
        out, _ = self.proc.communicate(timeout=timeout * TIME_SCALE)
        return self.proc.returncode, out


# -- a RESP client ----------------------------------------------------------------

class Closed(Exception):
    pass


class Error(str):
    """An error reply."""


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port, timeout=15):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout * TIME_SCALE)
        self.buf = bytearray()
        self.pos = 0

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, *commands):
        self.sock.sendall(b"".join(encode(c) for c in commands))

    def _fill(self):
        try:
            chunk = self.sock.recv(1 << 16)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise Closed()
        if self.pos > 1 << 16:
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return line
            self._fill()

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return Error(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) - self.pos < n + 2:
                self._fill()
            data = bytes(self.buf[self.pos:self.pos + n])
            self.pos += n + 2
            return data
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise AssertionError(f"not RESP: {line!r}")

    def cmd(self, *args):
        self.send(args)
        return self.reply()

    def closed_by_server(self, timeout=10):
        """Waits for the server to close; returns whatever it sent first."""
        self.sock.settimeout(timeout)
        data = bytes(self.buf[self.pos:])
        while True:
            try:
                chunk = self.sock.recv(1 << 16)
            except ConnectionResetError:
                return data
            if not chunk:
                return data
            data += chunk


def cli(port, *args):
    res = subprocess.run(["redis-cli", "-p", str(port), *map(str, args)],
                         capture_output=True, text=True, timeout=30 * TIME_SCALE)
    assert res.returncode == 0, res
    return res.stdout.rstrip("\n")


def cmd_retrying(port, *args):
    """Runs one command on a new connection, again on another if chaos
    crashes it (at most 100 times in a row, 50 ms apart: a server that is
    gone fails)."""
    last = None
    for _ in range(100):
        try:
            return Conn(port).cmd(*args)
        except (Closed, OSError) as e:
            last = e
            time.sleep(0.05)
    raise AssertionError(f"{args[0]}: 100 connections in a row failed, "
                         f"the last with {last!r}")


def info(port):
    text = cmd_retrying(port, "INFO").decode()
    return dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def eq(got, want, what=""):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


def still_serving(srv):
    check(srv.alive(), "the server died")
    eq(cmd_retrying(srv.port, "PING"), "PONG", "PING after the case")


# -- cases ------------------------------------------------------------------------

def case_commands():
    """Every supported command, through the stock redis-cli."""
    with Server() as srv:
        p = srv.port
        eq(cli(p, "PING"), "PONG")
        eq(cli(p, "PING", "hello"), "hello")
        eq(cli(p, "ECHO", "a b"), "a b")
        eq(cli(p, "SET", "foo", "bar"), "OK")
        eq(cli(p, "GET", "foo"), "bar")
        eq(cli(p, "GET", "nope"), "")
        eq(cli(p, "SET", "t", "v", "EX", "100"), "OK")
        check(98 <= int(cli(p, "TTL", "t")) <= 100, "TTL after EX 100")
        eq(cli(p, "SET", "foo", "x", "NX"), "")
        eq(cli(p, "INCR", "n"), "1")
        eq(cli(p, "INCRBY", "n", "41"), "42")
        eq(cli(p, "DECR", "n"), "41")
        eq(cli(p, "DECRBY", "n", "1"), "40")
        eq(cli(p, "MSET", "a", "1", "b", "2", "c", "3"), "OK")
        eq(cli(p, "MGET", "a", "nope", "c"), "1\n\n3")
        eq(cli(p, "EXISTS", "a", "b", "nope"), "2")
        eq(cli(p, "DEL", "a", "b", "nope"), "2")
        eq(cli(p, "DBSIZE"), "4")  # foo t n c
        eq(sorted(cli(p, "KEYS", "*").split("\n")), ["c", "foo", "n", "t"])
        eq(sorted(cli(p, "--scan", "--pattern", "[cf]*").split("\n")), ["c", "foo"])
        eq(cli(p, "CONFIG", "GET", "save"), "save")
        check("db0:keys=4,expires=1" in cli(p, "INFO"), "INFO's keyspace")
        if ALLOCATOR:
            allocator = info(p).get("mem_allocator", "")
            check(allocator.startswith(ALLOCATOR),
                  f"INFO's mem_allocator is {allocator!r}, want {ALLOCATOR}")
        eq(cli(p, "FLUSHALL"), "OK")
        eq(cli(p, "DBSIZE"), "0")
        eq(cli(p, "SELECT", "0"), "OK")
        err = cli(p, "LPUSH", "l", "x")
        check(err.startswith("ERR unknown command 'LPUSH'"), err)
        eq(cli(p, "GET"), "ERR wrong number of arguments for 'get' command")
        eq(cli(p, "INCR", "foo"), "1")  # foo was flushed
        eq(cli(p, "SET", "s", "abc"), "OK")
        eq(cli(p, "INCR", "s"), "ERR value is not an integer or out of range")
        eq(cli(p, "SET", "s", "x", "EX", "0"), "ERR invalid expire time in 'set' command")
        eq(cli(p, "SET", "p", "v", "PX", "2000"), "OK")
        check(0 < int(cli(p, "PTTL", "p")) <= 2000, "PTTL after PX 2000")
        deadline = time.time() + 10
        while cli(p, "GET", "p") != "" and time.time() < deadline:
            time.sleep(0.1)
        eq(cli(p, "EXISTS", "p"), "0", "a key past its PX")
        eq(cli(p, "QUIT"), "OK")
        # A value of a megabyte, binary, round trip.
        c = Conn(p)
        big = random.Random(1).randbytes(1 << 20)
        eq(c.cmd("SET", "big", big), "OK")
        eq(c.cmd("GET", "big"), big, "a 1 MiB binary value")
        # Pipelined, its replies pass through buffers that are reused for
        # the next commands: none may keep a large one for long.
        for _ in range(2):
            c.send(*[("GET", "big")] * 300)
            for i in range(300):
                eq(c.reply(), big, f"pipelined GET {i} of the 1 MiB value")
        # (Sanitizers hold freed memory back: only uninstrumented builds.)
        if TIME_SCALE == 1:
            rss_mib = rss_kib(srv.proc.pid) // 1024
            check(rss_mib < 200,
                  f"{rss_mib} MiB resident after 600 replies of 1 MiB")
        still_serving(srv)


def case_pipelining():
    """Many commands per read, commands split across reads, inline commands."""
    with Server() as srv:
        c = Conn(srv.port)
        n = 3000
        cmds = []
        for i in range(n):
            cmds.append(("SET", f"k{i}", f"v{i}"))
            cmds.append(("GET", f"k{i}"))
            cmds.append(("INCR", "counter"))
        c.send(*cmds)
        for i in range(n):
            eq(c.reply(), "OK", f"SET k{i}")
            eq(c.reply(), f"v{i}".encode(), f"GET k{i}")
            eq(c.reply(), i + 1, "INCR in order")
        # One command dribbled out a byte at a time, then the next with it.
        data = encode(("SET", "slow", "value")) + encode(("GET", "slow"))
        for b in data:
            c.send_raw(bytes([b]))
        eq(c.reply(), "OK")
        eq(c.reply(), b"value")
        # Inline commands, as netcat users type them.
        c.send_raw(b"PING\r\nSET inline \"a b\"\r\nGET inline\n\r\nECHO 'x'\r\n")
        eq(c.reply(), "PONG")
        eq(c.reply(), "OK")
        eq(c.reply(), b"a b")
        eq(c.reply(), b"x")
        # A multi-key command over every shard, pipelined with others.
        c.send(("MSET", *[x for i in range(100) for x in (f"m{i}", i)]),
               ("MGET", *[f"m{i}" for i in range(100)]), ("DBSIZE",))
        eq(c.reply(), "OK")
        eq(c.reply(), [str(i).encode() for i in range(100)])
        eq(c.reply(), n + 1 + 1 + 1 + 100)  # k*, counter, slow, inline, m*
        still_serving(srv)


MALFORMED = [
    ("a bad multibulk length", b"*abc\r\n$3\r\nGET\r\n", True),
    ("a negative bulk length", b"*1\r\n$-7\r\n", True),
    ("a huge bulk length", b"*2\r\n$3\r\nGET\r\n$99999999999\r\n", True),
    ("a bulk longer than --max-bulk", b"*2\r\n$3\r\nGET\r\n$17000000\r\n", True),
    ("too many arguments", b"*99999999\r\n", True),
    ("junk instead of a bulk", b"*2\r\n$3\r\nGET\r\n!!!\r\n", True),
    ("a bulk without its CRLF", b"*1\r\n$4\r\nPINGxx", True),
    ("unbalanced quotes", b"SET \"abc\r\n", True),
    # The server closes while most of it is unread: the kernel may reset
    # the connection before the error reply arrives.
    ("an endless inline line", b"x" * 200_000, False),
    ("an endless header", b"*1" + b"9" * 100, True),
]


def case_malformed():
    """Malformed input gets an error and a closed connection; the server and
    its other clients carry on."""
    with Server() as srv:
        bystander = Conn(srv.port)
        eq(bystander.cmd("SET", "safe", "1"), "OK")
        for what, data, must_answer in MALFORMED:
            c = Conn(srv.port)
            eq(c.cmd("PING"), "PONG", what)
            try:
                c.send_raw(data)
            except OSError:
                check(not must_answer, f"{what}: closed while sending")
            got = c.closed_by_server()
            check(got.startswith(b"-ERR Protocol error") or (not must_answer and not got),
                  f"{what}: got {got[:80]!r}")
            still_serving(srv)
        # Random binary junk: an error and a close, or a wait for more; never
        # a crash.
        rng = random.Random(7)
        for i in range(40):
            c = Conn(srv.port, timeout=2)
            junk = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 4000)))
            try:
                c.send_raw(junk)
                c.closed_by_server(timeout=0.2)
            except (socket.timeout, OSError):
                pass
            c.close()
        still_serving(srv)
        # Half-sent commands: the client leaves, or stays silent; neither
        # holds up anyone else.
        for part in (b"*3\r\n$3\r\nSET\r\n$1\r\nk", b"*2\r\n$3\r\nGET", b"GET ke"):
            c = Conn(srv.port)
            c.send_raw(part)
            c.close()
        silent = Conn(srv.port)
        silent.send_raw(b"*2\r\n$3\r\nGET\r\n$100\r\nabc")
        eq(bystander.cmd("GET", "safe"), b"1", "a bystander during a half-sent command")
        silent.send_raw(b"d" * 97 + b"\r\n")
        eq(silent.reply(), None, "the half-sent command, completed")
        # Commands that are well-formed but wrong get errors, not closes.
        c = Conn(srv.port)
        check(c.cmd("NOSUCH").startswith("ERR unknown command"), "unknown")
        check(c.cmd("SET", "x", "1", "EX", "nope").startswith("ERR"), "bad option")
        eq(c.cmd("PING"), "PONG", "the same connection after errors")
        # The --max-bulk bound holds in a real request too.
        c.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$16777217\r\n")
        check(c.closed_by_server().startswith(b"-ERR Protocol error: invalid bulk length"),
              "a value past the bound")
        still_serving(srv)
        eq(bystander.cmd("GET", "safe"), b"1", "the bystander at the end")


def connections_to(pid, port):
    """How many established TCP connections process `pid` has to `port` on
    loopback (from /proc, so no tool is needed)."""
    inodes = set()
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            m = re.match(r"socket:\[(\d+)\]", os.readlink(f"{fd_dir}/{fd}"))
        except OSError:
            continue
        if m:
            inodes.add(m.group(1))
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            remote_port = int(parts[2].split(":")[1], 16)
            if parts[3] == "01" and remote_port == port and parts[9] in inodes:
                n += 1
    return n


def benchmark(port, *args, check_ok=True, timeout=100):
    """Runs redis-benchmark. A run that does not end within `timeout` is a
    failure, unless the server closed every connection it had (returncode
    -1 then): redis-benchmark drops a client whose write fails and waits on,
    so with all its clients gone it waits for ever, which is its own hang,
    not the server's. With one client (`-c 1`), a live connection left
    waiting is the server's."""
    timeout *= TIME_SCALE
    cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), *map(str, args)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_die_with_parent)
    try:
        out, err = proc.communicate(timeout=timeout)
        res = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    except subprocess.TimeoutExpired:
        live = connections_to(proc.pid, port)
        proc.kill()
        out, err = proc.communicate()
        check(live == 0, f"redis-benchmark got no answer on {live} open "
                         f"connections within {timeout} s: {out}{err}")
        res = subprocess.CompletedProcess(cmd, -1, out, err)
    if check_ok:
        check(res.returncode == 0, f"redis-benchmark failed: {res.stdout}{res.stderr}")
    return res


def case_benchmark():
    """The stock redis-benchmark runs unchanged, pipelined and not."""
    with Server() as srv:
        tests = "ping,set,get,incr,mset"
        for extra in (["-P", "16"], ["-c", "10"]):
            res = benchmark(srv.port, "-q", "-n", "2000", "-r", "1000", "-t", tests,
                            *extra)
            out = res.stdout + res.stderr
            check("rror" not in out and "WARNING" not in out, out)
            for name in ("PING_INLINE", "PING_MBULK", "SET", "GET", "INCR",
                         "MSET (10 keys)"):
                check(re.search(re.escape(name) + r": [\d.]+ requests per second", out),
                      f"{name} missing in: {out}")
        still_serving(srv)


class Writer(threading.Thread):
    """Writes unique keys and a counter until told to stop, reconnecting when
    the server closes its connection; remembers what was acknowledged."""

    def __init__(self, port, number, stop):
        super().__init__(daemon=True)
        self.port, self.number, self.stop_flag = port, number, stop
        self.acked = {}
        self.errors = []
        self.disconnects = 0
        self.counter_acked = 0
        self.counter_tries = 0

    def run(self):
        i = 0
        conn = None
        while not self.stop_flag.is_set():
            try:
                if conn is None:
                    conn = Conn(self.port)
                batch = [(f"w{self.number}:{i + j}", f"v{i + j}-{random.random()}")
                         for j in range(20)]
                conn.send(*[("SET", k, v) for k, v in batch], ("INCR", f"cnt{self.number}"))
                self.counter_tries += 1
                i += len(batch)
                for k, v in batch:
                    r = conn.reply()
                    if r == "OK":
                        self.acked[k] = v.encode()
                    else:
                        self.errors.append(r)
                r = conn.reply()
                if isinstance(r, int):
                    self.counter_acked = r
                else:
                    self.errors.append(r)
            except (Closed, OSError):
                self.disconnects += 1
                conn = None
                time.sleep(0.01)


def read_back(port, keys):
    """GETs `keys` in MGETs of 100, reconnecting if a connection crashes (at
    most 100 times in a row, 50 ms apart: a server that is gone fails)."""
    values = {}
    keys = list(keys)
    while keys:
        chunk = keys[:100]
        got = cmd_retrying(port, "MGET", *chunk)
        check(isinstance(got, list), f"MGET answered {got!r}")
        values.update(zip(chunk, got))
        keys = keys[100:]
    return values


def chaos_run(targets, benchmark_must_finish):
    rate = 25
    with Server("--chaos", str(rate), "--chaos-targets", targets, "--seed", "3") as srv:
        stop = threading.Event()
        writers = [Writer(srv.port, i, stop) for i in range(4)]
        started = time.time()
        for w in writers:
            w.start()
        # With connections crashing, one benchmark client: a client that
        # loses its connection leaves redis-benchmark waiting for ever, and
        # with others it would wait with their connections idle, like a
        # server that stopped answering; alone, it has none left.
        clients = ["-c", "1"] if "connections" in targets else []
        res = benchmark(srv.port, "-q", "-n", "40000", "-r", "1000", "-P", "16",
                        *clients, "-t", "set,get,incr", check_ok=False,
                        timeout=60)
        # Writers go on for 3 s at least, under chaos all the while.
        time.sleep(max(0.0, 3.0 - (time.time() - started)))
        stop.set()
        for w in writers:
            w.join(30)
        out = res.stdout + res.stderr
        if benchmark_must_finish:
            check(res.returncode == 0, f"redis-benchmark under chaos: {out}")
        elif res.returncode > 0:
            # Only its own connection crashing may end it.
            check("Server closed the connection" in out or "reset by peer" in out,
                  f"redis-benchmark under chaos: {out}")
        # redis-benchmark 7 exits at the first error reply.
        check("rror from server" not in out, f"error replies under chaos: {out}")
        # Every acknowledged write is there.
        acked = {k: v for w in writers for k, v in w.acked.items()}
        check(len(acked) > 1000, f"only {len(acked)} writes acknowledged")
        values = read_back(srv.port, acked)
        lost = [k for k, v in acked.items() if values[k] != v]
        check(not lost, f"{len(lost)} acknowledged writes lost, e.g. {lost[:5]}")
        counters = read_back(srv.port, [f"cnt{w.number}" for w in writers])
        for w in writers:
            final = int(counters[f"cnt{w.number}"] or 0)
            if "connections" in targets:
                # An INCR whose connection crashed before the answer may or
                # may not have happened.
                check(w.counter_acked <= final <= w.counter_tries,
                      f"counter {w.number}: acked {w.counter_acked}, tries "
                      f"{w.counter_tries}, final {final}")
            else:
                # Nothing closes a writer's connection: every INCR was
                # answered, so the counter is exact.
                check(w.disconnects == 0 and
                      w.counter_acked == final == w.counter_tries,
                      f"counter {w.number}: acked {w.counter_acked}, tries "
                      f"{w.counter_tries}, final {final}, "
                      f"{w.disconnects} disconnects")
        errors = [e for w in writers for e in w.errors]
        check(not errors, f"error replies: {errors[:5]}")
        stats = info(srv.port)
        crashed_conns = int(stats["chaos_crashed_connections"])
        disconnects = sum(w.disconnects for w in writers)
        check(disconnects <= crashed_conns,
              f"{disconnects} disconnects, {crashed_conns} connection crashes")
        if "shards" in targets:
            check(int(stats["chaos_crashed_shards"]) > 10, f"shard crashes: {stats}")
            restarts = sum(int(re.search(r"restarts=(\d+)", v).group(1))
                           for k, v in stats.items() if re.match(r"shard\d+$", k))
            check(restarts > 5, f"shard restarts: {stats}")
            # Batches caught in a dead shard's mailbox were sent again (the
            # path that keeps shard crashes from the clients was taken).
            check(int(stats["shard_retries"]) > 0, f"shard retries: {stats}")
        if "connections" in targets:
            check(crashed_conns > 5, f"connection crashes: {stats}")
        print(f"{len(acked)} acknowledged writes, all readable; "
              f"{disconnects} writer disconnects; chaos: "
              f"{stats['chaos_crashed_shards']} shard and {crashed_conns} "
              f"connection crashes; {stats['shard_retries']} batches sent again; "
              f"benchmark exit {res.returncode}")
        still_serving(srv)
        code, out = srv.stop()
        # The server's own last words say why, if it did not end cleanly.
        check(code == 0, f"exit code after chaos: {code}; the server's "
                         f"stderr ends with {''.join(srv.stderr)[-4000:]}")
        check("kvstore: done" in out, out)


def case_chaos_shards():
    """Shards crash under redis-benchmark load: clients notice nothing."""
    chaos_run("shards", benchmark_must_finish=True)


def case_chaos_all():
    """Connections and shards crash: only the crashed connections see an
    error (their socket closes); no acknowledged write is lost."""
    chaos_run("connections,shards", benchmark_must_finish=False)


def case_durability():
    """With --data-dir the data outlives the process, also when shards
    crashed on the way."""
    with tempfile.TemporaryDirectory() as tmp:
        with Server("--data-dir", tmp, "--chaos", "20", "--chaos-targets", "shards") as srv:
            c = Conn(srv.port)
            for i in range(300):
                eq(c.cmd("SET", f"key{i}", f"value{i}"), "OK")
                eq(c.cmd("INCR", "n"), i + 1)
            eq(c.cmd("SET", "ttl", "x", "EX", "1000"), "OK")
            eq(c.cmd("DEL", "key0"), 1)
            code, out = srv.stop()
            eq(code, 0, "exit code")
        with Server("--data-dir", tmp) as srv:
            c = Conn(srv.port)
            eq(c.cmd("GET", "key299"), b"value299")
            eq(c.cmd("GET", "key0"), None)
            eq(c.cmd("GET", "n"), b"300")
            check(990 < c.cmd("TTL", "ttl") <= 1000, "TTL across a restart")
            eq(c.cmd("DBSIZE"), 301)
            srv.stop()
        # Other shard counts would put keys in the wrong shards: refused.
        srv = Server("--data-dir", tmp, "--shards", "3", expect_start=False)
        try:
            srv.proc.wait(30)
            eq(srv.proc.returncode, 1, "exit code with another --shards")
            time.sleep(0.1)
            check("start with --shards 4" in "".join(srv.stderr), "".join(srv.stderr))
        finally:
            srv.kill()


def case_drain():
    """SIGTERM drains (trellis::coordinated_shutdown): each client's commands
    already read are answered in order, then the server closes the client
    cleanly; every acknowledged write is there at the next start."""
    n = 100_000
    with tempfile.TemporaryDirectory() as tmp:
        with Server("--data-dir", tmp) as srv:
            idle = Conn(srv.port)
            eq(idle.cmd("PING"), "PONG")
            busy = Conn(srv.port)
            data = b"".join(encode(("SET", f"k{i}", f"v{i}")) for i in range(n))

            def send_all():
                try:
                    busy.send_raw(data)
                except OSError:
                    pass  # closed by the drain before all of it went

            sender = threading.Thread(target=send_all, daemon=True)
            sender.start()
            eq(busy.reply(), "OK", "the first reply, before the signal")
            srv.proc.send_signal(signal.SIGTERM)
            acked = 1
            while True:
                try:
                    r = busy.reply()
                except Closed:
                    break
                eq(r, "OK", f"reply {acked + 1}")
                acked += 1
            check(1 < acked <= n, f"{acked} replies")
            eq(idle.closed_by_server(), b"", "an idle client is closed silently")
            out, _ = srv.proc.communicate(timeout=20 * TIME_SCALE)
            eq(srv.proc.returncode, 0, "exit code")
            check("shutdown: clean" in out, out)
            check(out.rstrip().endswith("kvstore: done"), out)
        with Server("--data-dir", tmp) as srv:
            c = Conn(srv.port)
            for i in range(acked):
                eq(c.cmd("GET", f"k{i}"), f"v{i}".encode(), f"acknowledged k{i}")
            srv.stop()
    print(f"{acked} of {n} pipelined SETs answered before the close, all kept")


def case_lifecycle():
    """SIGINT and SIGTERM stop the tree cleanly; --help, bad options, a port
    in use, --max-clients."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        with Server() as srv:
            c = Conn(srv.port)
            eq(c.cmd("SET", "a", "1"), "OK")
            code, out = srv.stop(sig)
            eq(code, 0, f"exit code after {sig.name} (stdout: {out!r}; "
                        f"stderr: {''.join(srv.stderr)[-2000:]!r})")
            check(out.rstrip().endswith("kvstore: done"), out)
            check(c.closed_by_server() == b"", "clients are closed at shutdown")
    res = subprocess.run([SERVER, "--help"], capture_output=True, text=True)
    check(res.returncode == 0 and "--chaos RATE" in res.stdout, res.stdout)
    res = subprocess.run([SERVER, "--port", "x"], capture_output=True, text=True)
    eq(res.returncode, 2, "exit code of a bad option")
    # A port in use fails the start with the reason.
    with Server() as srv:
        res = subprocess.run([SERVER, "--port", str(srv.port)], capture_output=True,
                             text=True, timeout=30, preexec_fn=_die_with_parent)
        eq(res.returncode, 1, "exit code on a port in use")
        check("start failed" in res.stderr, res.stderr)
    # One client too many is told so and closed; its place frees up.
    with Server("--max-clients", "2") as srv:
        a, b = Conn(srv.port), Conn(srv.port)
        eq((a.cmd("PING"), b.cmd("PING")), ("PONG", "PONG"))
        eq(Conn(srv.port).closed_by_server(), b"-ERR max number of clients reached\r\n")
        a.close()
        deadline = time.time() + 10
        answer = None
        while answer != "PONG" and time.time() < deadline:
            try:
                answer = Conn(srv.port).cmd("PING")  # refused until a's child ends
            except Closed:
                time.sleep(0.05)
        eq(answer, "PONG", "a client after one left")


def main():
    global SERVER
    cases = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True)
    parser.add_argument("--allocator",
                        help="the allocator INFO must name (jemalloc, libc)")
    parser.add_argument("case", choices=sorted(cases))
    args = parser.parse_args()
    SERVER = os.path.abspath(args.server)
    global ALLOCATOR
    ALLOCATOR = args.allocator
    random.seed(1)
    start = time.time()
    cases[args.case]()
    print(f"kvstore e2e {args.case}: passed in {time.time() - start:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
