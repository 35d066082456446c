#!/usr/bin/env python3
"""The observer's page in headless Chromium, driven over the DevTools
protocol on a pipe (--remote-debugging-pipe: no extra packages).

  page_test.py --host observer_page_host --out DIR CASE

CASE is `tree` (every node drawn, a crash injected in the process shows up
on the page, a screenshot saved as DIR/observer.png; at the end the root
gives up and the page says why), `large` (10,000
children stay responsive: collapsed into a count, expanded a page at a
time), `crashes` (a click on a crashed child shows its crash reports, its
message with markup in it as text, a screenshot saved as
DIR/observer-crashes.png) or `sys` (the Look inside panel of a worker:
statistics, trace, suspend and resume, and its state, the markup in its
messages shown as text, a screenshot saved as DIR/observer-sys.png) or `incidents` (a dependency goes down: the
Incidents panel lists it, its cause shown as text, and the paused child
carries its badge; both go once it is back).
Exits 77 (skipped) only when no Chromium is installed.
"""

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

PATIENCE = 60.0  # seconds; a generous bound, never a speed assertion


class Chromium:
    """Headless Chromium with the DevTools protocol on fds 3 and 4."""

    def __init__(self, binary, url, size=(1280, 800)):
        self.profile = tempfile.mkdtemp(prefix="trellis-observer-")
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def wire():
            # Park both ends high first, so that neither dup2 clobbers the
            # other, then put them where Chromium expects them.
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(a, 100)
            os.dup2(b, 101)
            os.dup2(100, 3)
            os.dup2(101, 4)

        args = [binary, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-dev-shm-usage",
                "--remote-debugging-pipe", "--user-data-dir=" + self.profile,
                "--window-size=%d,%d" % size, url]
        self.proc = subprocess.Popen(args, preexec_fn=wire, close_fds=False,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.next_id = 0
        self.buffer = b""
        self.session = None
        self.events = []  # protocol events read while waiting for a reply

    def send(self, method, params=None, session=True):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self.read()
            if "id" not in reply:
                self.events.append(reply)
            elif reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError("%s: %s" % (method, reply["error"]))
                return reply["result"]

    def next_event(self, method):
        """Returns the next protocol event `method`, skipping others."""
        deadline = time.time() + PATIENCE
        while time.time() < deadline:
            while self.events:
                ev = self.events.pop(0)
                if ev.get("method") == method:
                    return ev["params"]
            self.events.append(self.read())
        raise AssertionError("timed out waiting for the event %s" % method)

    def rewrite_response(self, url_pattern, rewrite, trigger):
        """Runs `trigger` (page JavaScript that fetches `url_pattern`) and
        hands the response's body to `rewrite`, whose result the page gets
        instead: the page's own fetch, parse and draw see it."""
        self.send("Fetch.enable", {"patterns": [
            {"urlPattern": url_pattern, "requestStage": "Response"}]})
        try:
            self.eval(trigger)
            paused = self.next_event("Fetch.requestPaused")
            body = self.send("Fetch.getResponseBody",
                             {"requestId": paused["requestId"]})
            data = body["body"]
            if body.get("base64Encoded"):
                data = base64.b64decode(data).decode()
            new = rewrite(data).encode()
            self.send("Fetch.fulfillRequest", {
                "requestId": paused["requestId"], "responseCode": 200,
                "responseHeaders": [{"name": "Content-Type",
                                     "value": "application/json"}],
                "body": base64.b64encode(new).decode()})
        finally:
            self.send("Fetch.disable")

    def read(self):
        while b"\0" not in self.buffer:
            chunk = os.read(self.from_chrome, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed its pipe")
            self.buffer += chunk
        msg, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(msg)

    def attach(self):
        deadline = time.time() + PATIENCE
        while time.time() < deadline:
            pages = [t for t in self.send("Target.getTargets", session=False)
                     ["targetInfos"] if t["type"] == "page"]
            if pages:
                self.session = self.send(
                    "Target.attachToTarget",
                    {"targetId": pages[0]["targetId"], "flatten": True},
                    session=False)["sessionId"]
                return
            time.sleep(0.1)
        raise RuntimeError("no page target")

    def eval(self, expression):
        res = self.send("Runtime.evaluate",
                        {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in res:
            raise RuntimeError("page: %s" % res["exceptionDetails"])
        return res["result"].get("value")

    def wait_for(self, expression, what):
        deadline = time.time() + PATIENCE
        while time.time() < deadline:
            try:
                if self.eval(expression):
                    return
            except RuntimeError:
                pass  # The page is not there yet (no body, no node).
            time.sleep(0.05)
        try:
            state = self.eval("document.getElementById('conn').textContent")
        except RuntimeError as e:
            state = str(e)
        raise AssertionError("timed out waiting for %s (page: %s)"
                             % (what, state))

    def screenshot(self, path):
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.send("Browser.close", session=False)
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_chrome)
        os.close(self.from_chrome)
        shutil.rmtree(self.profile, ignore_errors=True)


class Host:
    """The test program: a tree with an observer."""

    def __init__(self, binary, sessions):
        self.proc = subprocess.Popen([binary, str(sessions)],
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("port "):
            raise RuntimeError("host said %r" % line)
        self.url = "http://127.0.0.1:%d/" % int(line.split()[1])

    def command(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        if answer != "ok":
            raise RuntimeError("%s: %s" % (line, answer))

    def close(self):
        self.proc.stdin.write("quit\n")
        self.proc.stdin.flush()
        if self.proc.wait(timeout=PATIENCE) != 0:
            raise RuntimeError("host exited with %d" % self.proc.returncode)


DRAWN = "document.querySelectorAll('#tree li[data-path]').length"


def node_state(path, state):
    return ("document.querySelector('#tree li[data-path=\"%s\"]')"
            ".dataset.state === '%s'" % (path, state))


def click_node(browser, path):
    browser.eval("document.querySelector('#tree li[data-path=\"%s\"] > .row"
                 " .id').click()" % path)


def case_tree(browser, host, out):
    browser.wait_for("document.body.dataset.ready === '1'", "the first draw")
    browser.wait_for("document.getElementById('conn').dataset.state === 'live'",
                     "the event stream")
    # root, gateway, storage, journal, indexer, sessions, 3 sessions, monitor.
    drawn = browser.eval(DRAWN)
    assert drawn == 10, "drew %s nodes, expected 10" % drawn
    assert browser.eval("document.body.dataset.totalNodes") == "10"
    # The monitor's alarm was raised before the page connected.
    browser.wait_for("document.querySelector('#alarms li[data-path=\"root/"
                     "monitor\"]') !== null", "the open alarm")
    assert browser.eval(
        "document.querySelector('[data-path=\"root/storage\"] .budget')"
        ".textContent") == "budget 3/3"
    host.command("crash root/storage/journal")
    crashed = ("document.querySelector('#events li.crash"
               "[data-path=\"root/storage/journal\"]') !== null")
    browser.wait_for(crashed, "the crash in the event log")
    restarted = ("document.querySelector('#tree li[data-path=\"root/storage/"
                 "journal\"]').dataset.restarts === '1'")
    browser.wait_for(restarted, "the journal's restart count on its node")
    # After the refetch, the budget shows the restart it cost.
    browser.wait_for(
        "document.querySelector('[data-path=\"root/storage\"] .budget')"
        ".textContent === 'budget 2/3'", "storage's budget")
    assert browser.eval(
        "document.getElementById('n-crashes').textContent") == "1"
    # Loaded again, the page opens with the server's counts, not zeros, and
    # with the events from before it connected.
    # The old page answers until the new one replaces it: mark it, so that
    # only the new one can satisfy the wait.
    browser.eval("window.oldPage = true; location.reload(); 0")
    # Two restarts: storage is rest_for_one, the indexer follows the
    # journal.
    browser.wait_for("!window.oldPage && "
                     "document.body.dataset.ready === '1' && document."
                     "getElementById('n-crashes').textContent === '1' && "
                     "document.getElementById('n-restarts').textContent "
                     "=== '2'", "the server's counts after a reload")
    browser.wait_for(crashed, "the crash in the event log after a reload")
    # The Selected panel shows the crashed journal's details.
    click_node(browser, "root/storage/journal")
    browser.wait_for("document.getElementById('sel-info').textContent"
                     ".includes('injected fault')", "the journal's details")
    browser.screenshot(os.path.join(out, "observer.png"))
    # A distributed tree's nodes carry "node" (empty or missing for local
    # ones); the page shows it. This tree is local, so the test changes the
    # server's answer on the wire, and the page's own fetch, parse and draw
    # take it from there.
    assert browser.eval("document.querySelectorAll('.badge.node').length") == 0

    def remote_gateway(body):
        tree = json.loads(body)

        def walk(x):
            if x.get("path") == "root/gateway":
                x["node"] = "n2@host"
                return True
            return any(walk(y) for y in x.get("children", []))
        assert walk(tree), "no root/gateway in %s" % body[:200]
        return json.dumps(tree)
    browser.rewrite_response("*api/tree*", remote_gateway, "fetchTree(); 0")
    badge_of = ("document.querySelector('[data-path=\"root/gateway\"] "
                ".badge.node')")
    browser.wait_for(badge_of + " !== null", "the gateway's node badge")
    badge = browser.eval(badge_of + ".textContent")
    assert badge == "@n2@host", badge
    # The operator's controls, with the token: terminate, then restart.
    click_node(browser, "root/gateway")
    browser.eval("document.getElementById('token').value = 'page-token'")
    browser.eval("document.getElementById('do-terminate').click()")
    browser.wait_for(node_state("root/gateway", "stopped"), "a stopped gateway")
    browser.eval("document.getElementById('do-restart').click()")
    browser.wait_for(node_state("root/gateway", "running"), "a running gateway")
    # A wrong token is refused, and the page says so.
    browser.eval("document.getElementById('token').value = 'nope';"
                 "document.getElementById('do-terminate').click()")
    browser.wait_for("document.getElementById('action-result').dataset.status"
                     " === '403'", "the 403 of a wrong token")
    assert browser.eval(node_state("root/gateway", "running"))
    # The root gives up: the page says that the tree ended, and why.
    host.command("give-up")
    browser.wait_for("!document.getElementById('ended').hidden",
                     "the page's notice that the tree ended")
    notice = browser.eval("document.getElementById('ended').textContent")
    assert "reached_max_restart_intensity" in notice, notice
    assert "root/gateway" in notice or "gateway" in notice, notice
    assert browser.eval(
        "document.getElementById('conn').dataset.state") == "ended"
    # Nothing of the last snapshot is drawn as running any more.
    assert browser.eval("document.querySelectorAll('#tree li.node"
                        "[data-state=\"running\"]').length") == 0
    assert browser.eval(node_state("root", "stopped"))
    browser.screenshot(os.path.join(out, "observer-ended.png"))


def case_large(browser, host, out):
    browser.wait_for("document.body.dataset.ready === '1'", "the first draw")
    assert browser.eval("document.body.dataset.totalNodes") == "10007"
    # The dynamic supervisor is one row and a button, not 10,000 rows.
    drawn = browser.eval(DRAWN)
    assert drawn == 7, "drew %s nodes, expected 7" % drawn
    button = ("document.querySelector('[data-path=\"root/sessions\"] "
              "> button.more')")
    assert "10,000 children" in browser.eval(button + ".textContent")
    browser.eval(button + ".click()")
    browser.wait_for(DRAWN + " === 507", "the first page of sessions")
    host.command("crash root/sessions/session#42")
    browser.wait_for(
        "document.querySelector('#events li.crash"
        "[data-path=\"root/sessions/session#42\"]') !== null",
        "the crash in the event log")
    browser.screenshot(os.path.join(out, "observer-large.png"))


def case_crashes(browser, host, out):
    browser.wait_for("document.body.dataset.ready === '1'", "the first draw")
    browser.wait_for("document.getElementById('conn').dataset.state === 'live'",
                     "the event stream")
    host.command("poison")
    drawn = "document.querySelector('#tree li[data-path=\"root/parser\"]')"
    browser.wait_for(drawn + " !== null", "the parser's node")
    click_node(browser, "root/parser")
    reports = "document.querySelectorAll('#crash-list details.crash')"
    browser.wait_for(reports + ".length === 1", "the parser's crash report")
    first = "document.querySelector('#crash-list details.crash')"
    text = lambda sel: browser.eval(
        first + ".querySelector('%s').textContent" % sel)
    what = text(".crash-what")
    assert what.startswith("std::invalid_argument: cannot parse bad <img"), what
    assert browser.eval(first + ".open"), "the newest crash starts open"
    # The message is shown as text: its markup made no element and ran no
    # handler.
    message = text(".crash-message")
    assert "<img src=x onerror=" in message, message
    assert message.startswith("request from actor #"), message
    assert "(std::string)" in message, message
    assert browser.eval("document.querySelectorAll('img').length") == 0
    assert browser.eval("document.body.dataset.pwned") is None
    last = text(".crash-last")
    assert last.startswith("request from actor #"), last
    assert '("hello")' in last and "<img" in last, last
    assert text(".crash-state") == "parsed=1 last=hello", text(".crash-state")
    assert "restart count 0" in text("summary")
    trace = text(".crash-trace")
    if trace != "not captured":
        assert trace.startswith("#0 "), trace
    # Another crash of the selected child refreshes the panel, newest first.
    host.command("poison")
    browser.wait_for(reports + ".length === 2", "the second crash report")
    assert "restart count 1" in text("summary")
    # A supervisor shows its children's crashes, each with its path.
    click_node(browser, "root")
    browser.wait_for("document.getElementById('crash-list').dataset.path"
                     " === 'root' && " + reports + ".length === 2",
                     "the root's children's crashes")
    assert "of the children of root" in browser.eval(
        "document.getElementById('crash-status').textContent")
    assert text(".crash-path") == "root/parser"
    click_node(browser, "root/parser")
    browser.wait_for("document.getElementById('crash-list').dataset.path"
                     " === 'root/parser'", "the parser's crashes again")
    browser.wait_for(reports + ".length === 2", "the parser's two crashes")
    assert browser.eval("document.querySelectorAll('img').length") == 0
    assert browser.eval("document.body.dataset.pwned") is None
    # Only the newest starts open; the older one is a line until clicked.
    assert not browser.eval(reports + "[1].open")
    time.sleep(3.2)  # Until the crash's flash faded, for the picture.
    browser.screenshot(os.path.join(out, "observer-crashes.png"))


def case_sys(browser, host, out):
    browser.wait_for("document.body.dataset.ready === '1'", "the first draw")
    browser.wait_for("document.getElementById('conn').dataset.state === 'live'",
                     "the event stream")
    host.command("ledger")
    browser.wait_for("document.querySelector('#tree li[data-path=\"root/"
                     "ledger\"]') !== null", "the ledger's node")
    line = "document.getElementById('sys-line')"
    result = "document.getElementById('sys-result')"
    handled = "Number(%s.dataset.handled)" % line
    # The texts the ledger handled, newest first (its other messages, such
    # as the test's traffic of numbers, are left out).
    texts = ("[...document.querySelectorAll('#sys-trace li')].filter((li) => "
             "li.textContent.includes('(std::string)'))")

    def click(button):
        browser.eval("document.getElementById('%s').click()" % button)

    # A supervisor has no handler to look into: no panel.
    click_node(browser, "root/storage")
    assert browser.eval("document.getElementById('inside').hidden")
    click_node(browser, "root/ledger")
    browser.wait_for("!document.getElementById('inside').hidden && "
                     + line + ".textContent === 'statistics off'",
                     "the ledger's panel, statistics off")
    # The controls need the token.
    click("sys-statistics")
    browser.wait_for(result + ".dataset.status === '401'",
                     "the 401 of a missing token")
    browser.eval("document.getElementById('token').value = 'page-token'")
    click("sys-statistics")
    browser.wait_for("document.getElementById('sys-statistics').textContent"
                     " === 'statistics off'", "statistics on")
    click("sys-trace-switch")
    browser.wait_for("!document.getElementById('sys-trace-box').hidden",
                     "the trace on")
    host.command("traffic 20")
    browser.wait_for(handled + " >= 21 && " + line + ".dataset.waiting === '0'",
                     "21 messages handled in the statistics line")
    text = browser.eval(line + ".textContent")
    assert " handled \u00b7 p50 " in text and "0 waiting" in text, text
    browser.wait_for(texts + ".length === 21", "21 traced texts")
    # Newest first, the markup as text: no element, no handler run.
    newest = browser.eval(texts + "[0].textContent")
    assert "handled request from actor #" in newest, newest
    assert '(std::string) ("<img src=x onerror=' in newest, newest
    assert '"entry 20"' in browser.eval(texts + "[1].textContent")
    assert '"entry 1"' in browser.eval(texts + "[20].textContent")
    assert browser.eval("document.querySelectorAll('img').length") == 0
    assert browser.eval("document.body.dataset.pwned") is None
    # Suspended, what comes waits.
    click("sys-suspend")
    browser.wait_for(line + ".dataset.suspended === 'true'",
                     "a suspended ledger")
    assert browser.eval(
        "document.getElementById('sys-suspend').textContent") == "resume"
    before = browser.eval(handled)
    host.command("traffic 3")
    browser.wait_for("Number(%s.dataset.waiting) >= 4" % line,
                     "4 messages waiting in the suspended ledger")
    assert browser.eval(line + ".textContent").endswith("suspended")
    assert browser.eval(handled) == before
    click("sys-suspend")
    browser.wait_for(line + ".dataset.suspended === 'false' && " + texts
                     + ".length === 25", "the resumed ledger handling what "
                     "waited")
    # Its state, as its format_state hook renders it, as text.
    click("sys-show-state")
    state = "document.getElementById('sys-state')"
    browser.wait_for(state + ".dataset.status === '200'", "the ledger's state")
    shown = browser.eval(state + ".textContent")
    assert shown == ('parsed=25 last=<img src=x onerror="document.body.'
                     "dataset.pwned='1'\">"), shown
    assert browser.eval("document.querySelectorAll('img').length") == 0
    assert browser.eval("document.body.dataset.pwned") is None
    host.command("traffic 2")
    browser.wait_for(texts + ".length === 28 && " + line
                     + ".dataset.waiting === '0'", "the next three texts")
    browser.screenshot(os.path.join(out, "observer-sys.png"))
    # Another node selected: the ledger is asked no more.
    browser.eval("window.ledgerAsks = 0; const f = window.fetch;"
                 "window.fetch = (u, o) => { if (String(u).includes("
                 "'root%2Fledger')) ++window.ledgerAsks; return f(u, o); }; 0")
    click_node(browser, "root/gateway")
    browser.wait_for(line + ".textContent === 'statistics off'",
                     "the gateway's statistics line")
    assert browser.eval(texts + ".length") == 0
    time.sleep(2.5)  # More than two of the ledger's polling periods.
    assert browser.eval("window.ledgerAsks") == 0
    # Back to the ledger, and everything off again.
    click_node(browser, "root/ledger")
    browser.wait_for(handled + " >= 28", "the ledger's statistics again")
    click("sys-trace-switch")
    browser.wait_for("document.getElementById('sys-trace-box').hidden",
                     "the trace off")
    click("sys-statistics")
    browser.wait_for(line + ".textContent === 'statistics off'",
                     "statistics off")


def case_incidents(browser, host, out):
    browser.wait_for("document.body.dataset.ready === '1'", "the first draw")
    browser.wait_for("document.getElementById('conn').dataset.state === 'live'",
                     "the event stream")
    assert browser.eval(
        "document.querySelector('#incidents li.empty') !== null"), \
        "an incident before the outage"
    host.command("outage")
    listed = "document.querySelector('#incidents li[data-dependency=\"db\"]')"
    # The incident opens on the pool's report; the reader is paused when it
    # fails next, and the panel is drawn again then.
    browser.wait_for(listed + " !== null && " + listed
                     + ".textContent.includes('1 paused')",
                     "the incident in its panel, with the reader paused")
    text = browser.eval(listed + ".textContent")
    assert "reported down by pool: connection <refused>" in text, text
    badge = ("document.querySelector('#tree li[data-path=\"root/reader\"] "
             ".badge.paused')")
    browser.wait_for(badge + " !== null", "the paused badge on root/reader")
    assert browser.eval(badge + ".textContent") == "paused: db"
    assert browser.eval("document.body.dataset.pwned === undefined")
    host.command("recover")
    browser.wait_for("document.querySelector('#incidents li.empty') !== null",
                     "the incident gone from its panel")
    browser.wait_for(badge + " === null", "the badge gone")


def find_chromium(given):
    for name in [given, "chromium", "chromium-browser", "google-chrome"]:
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--chromium")
    parser.add_argument("--out", default=".")
    parser.add_argument("case", choices=["tree", "large", "crashes", "sys",
                                         "incidents"])
    args = parser.parse_args()
    binary = find_chromium(args.chromium)
    if not binary:
        print("SKIP: no chromium installed (./dev installs it)")
        return 77
    os.makedirs(args.out, exist_ok=True)
    host = Host(args.host, 10000 if args.case == "large" else 3)
    browser = None
    try:
        size = (1280, 1000) if args.case in ("crashes", "sys") else (1280, 800)
        browser = Chromium(binary, host.url, size)
        browser.attach()
        cases = {"tree": case_tree, "large": case_large,
                 "crashes": case_crashes, "sys": case_sys,
                 "incidents": case_incidents}
        cases[args.case](browser, host, args.out)
    finally:
        if browser:
            browser.close()
        host.close()
    print("page_test %s: ok" % args.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
