"""What the Python tests read of a process from /proc."""


def rss_kib(pid):
    """The resident set of process `pid` (VmRSS), in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")
