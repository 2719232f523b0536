"""Per-interface sysctls (``/proc/sys/net/ipv4/conf/<if>/<key>``) for ``ibftkit.network.apply``."""

from __future__ import annotations


def write_sysctl(path: str, value: str, netns: str | None = None) -> str:
    """Write ``value`` to a ``/proc/sys`` file and return what it held. ``/proc/sys/net`` shows the
    network namespace of the process that opens it, so for ``netns`` (the tests' namespaces) the
    write runs in that namespace (``ip netns exec``); ibftkit-init runs in its own."""
    if netns is None:
        with open(path, "r+") as f:
            before = f.read().strip()
            f.seek(0)
            f.write(f"{value}\n")
        return before
    import subprocess  # only on the namespace path, which ibftkit-init never takes

    script = 'cat "$1" && echo "$2" > "$1"'
    r = subprocess.run(["ip", "netns", "exec", netns, "sh", "-c", script, "sh", path, value],
                       capture_output=True, text=True, check=False)
    if r.returncode:
        raise OSError(f"{path} in {netns}: {r.stderr.strip() or 'cannot write'}")
    return r.stdout.strip()
