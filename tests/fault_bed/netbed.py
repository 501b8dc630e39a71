#!/usr/bin/env python3
"""netbed: a multi-host network fault bed built from network namespaces.

Each emulated host is a network namespace PREFIX-hI with one TUN interface,
tun0, holding SUBNET.I/24. The other ends of all TUN devices are held open by
this process, which acts as the router between hosts: every IPv4 packet a host
sends to SUBNET.J is read from host I's TUN, impaired according to the
settings of the ordered pair (I -> J), and written to host J's TUN. Programs
in the namespaces use ordinary TCP/UDP sockets.

Why userspace: the kernel this runs on has no sch_netem (nor fq/NFQUEUE), so
delay, jitter, reordering and duplication cannot be done with `tc`. TUN
devices work, so the impairments are applied here instead. Like netem, jitter
reorders packets; loss is applied before duplication; a duplicate gets its
own jitter.

Usage (root required; otherwise prints "skipped: needs root" and exits 77):

    netbed.py up --hosts 3 --name bed [--subnet 10.77.0]

Stale namespaces PREFIX-h<n> from a crashed run are deleted first. (The TUN
devices themselves are non-persistent, so they die with the process that
owns them and cannot go stale.) When ready, one JSON line is printed:

    {"ready": true, "hosts": {"1": "10.77.0.1", ...}, "netns": {"1": "bed-h1", ...}}

Run a program on host I with `ip netns exec PREFIX-hI ...`. The router runs
until stdin reaches EOF or SIGTERM/SIGINT arrives; then it deletes the
namespaces it made and exits 0.

Control protocol: one JSON object per line on stdin, each answered by one
JSON line on stdout, {"ok": true, ...} or {"ok": false, "error": "..."}.
A and B are host numbers or "*" (every host); self-pairs are ignored.
Changes apply to packets read after the command; queued packets keep theirs.

    {"cmd": "set", "from": A, "to": B, "delay_ms": D, "jitter_ms": J,
     "loss": L, "duplicate": P}     omitted fields keep their value
    {"cmd": "cut", "from": A, "to": B}        drop everything A -> B
    {"cmd": "restore", "from": A, "to": B}    undo a cut (only)
    {"cmd": "partition", "groups": [[1, 2], [3]]}
                                    cut all pairs across groups, both ways;
                                    unlisted hosts keep their links
    {"cmd": "heal"}                 remove all cuts, keep impairments
    {"cmd": "reset"}                no cuts, no impairments
    {"cmd": "stats"}                counters: forwarded (written to a TUN,
                                    duplicates included), dropped_loss,
                                    dropped_cut, duplicated, unroutable,
                                    not_ipv4, write_errors, read_errors,
                                    queued (scheduled, not yet delivered)
"""

import argparse
import fcntl
import heapq
import json
import math
import os
import random
import re
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
# Packets read from one TUN per wakeup: bounded so that a flooding host cannot
# delay other hosts' reads or the delivery of packets that are due.
READ_BATCH = 256
STAT_KEYS = ("forwarded", "dropped_loss", "dropped_cut", "duplicated",
             "unroutable", "not_ipv4", "write_errors", "read_errors")


def ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def remove_stale(prefix):
    pattern = re.compile(re.escape(prefix) + r"-h\d+")
    for line in ip("netns", "list").stdout.splitlines():
        name = line.split(" ", 1)[0]
        if pattern.fullmatch(name):
            ip("netns", "del", name, check=False)


def open_tun():
    """Create a TUN device in the root namespace; the kernel picks a free name."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    ifr = fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", b"", IFF_TUN | IFF_NO_PI))
    return fd, ifr[:16].rstrip(b"\0").decode()


def make_host(ns, addr):
    """Create namespace `ns` with tun0 = addr/24; return the router's TUN fd."""
    # On failure the fd is left to process exit, which follows immediately.
    fd, dev = open_tun()
    ip("netns", "add", ns)
    ip("link", "set", "dev", dev, "netns", ns)
    ip("-n", ns, "link", "set", "dev", "lo", "up")
    ip("-n", ns, "link", "set", "dev", dev, "name", "tun0")
    ip("-n", ns, "addr", "add", f"{addr}/24", "dev", "tun0")
    ip("-n", ns, "link", "set", "dev", "tun0", "mtu", "1500", "up")
    return fd


class Link:
    """Impairment of one direction between two hosts (times in seconds)."""
    __slots__ = ("delay", "jitter", "loss", "duplicate", "cut")

    def __init__(self):
        self.delay = self.jitter = self.loss = self.duplicate = 0.0
        self.cut = False


class Router:
    def __init__(self, fds, addrs):
        self.fds = fds                                    # host -> TUN fd
        self.host_of = {socket.inet_aton(a): h for h, a in addrs.items()}
        self.links = {(a, b): Link() for a in fds for b in fds if a != b}
        self.queue = []                                   # (deliver_at, seq, fd, packet)
        self.seq = 0                                      # tie-breaker: FIFO for equal times
        self.stats = dict.fromkeys(STAT_KEYS, 0)

    # --- data path -------------------------------------------------------

    def read_from(self, src, fd, now):
        """Drain up to READ_BATCH packets; False if the device is gone."""
        for _ in range(READ_BATCH):
            try:
                pkt = os.read(fd, 65535)
            except BlockingIOError:
                return True
            except OSError:  # e.g. EBADFD once the namespace was deleted
                self.stats["read_errors"] += 1
                return False
            self.route(src, pkt, now)
        return True

    def route(self, src, pkt, now):
        if len(pkt) < 20 or pkt[0] >> 4 != 4:
            self.stats["not_ipv4"] += 1
            return
        dst = self.host_of.get(pkt[16:20])
        if dst is None or dst == src:
            self.stats["unroutable"] += 1
            return
        link = self.links[src, dst]
        if link.cut:
            self.stats["dropped_cut"] += 1
            return
        if link.loss and random.random() < link.loss:
            self.stats["dropped_loss"] += 1
            return
        self.schedule(now, link, self.fds[dst], pkt)
        if link.duplicate and random.random() < link.duplicate:
            self.stats["duplicated"] += 1
            self.schedule(now, link, self.fds[dst], pkt)

    def schedule(self, now, link, fd, pkt):
        delay = link.delay
        if link.jitter:
            delay += random.uniform(-link.jitter, link.jitter)
        self.seq += 1
        heapq.heappush(self.queue, (now + max(0.0, delay), self.seq, fd, pkt))

    def deliver_due(self, now):
        queue = self.queue
        while queue and queue[0][0] <= now:
            _, _, fd, pkt = heapq.heappop(queue)
            try:
                os.write(fd, pkt)
                self.stats["forwarded"] += 1
            except OSError:  # ENOBUFS, interface down, device gone: a lost packet
                self.stats["write_errors"] += 1

    # --- control ---------------------------------------------------------

    def command(self, line):
        try:
            msg = json.loads(line)
            if not isinstance(msg, dict):
                raise ValueError("expected a JSON object")
            handler = getattr(self, f"cmd_{msg.get('cmd')}", None)
            if handler is None:
                raise ValueError(f"unknown cmd {msg.get('cmd')!r}")
            return {"ok": True, **handler(msg)}
        except ValueError as e:  # includes json.JSONDecodeError
            return {"ok": False, "error": str(e)}

    def host(self, h, what="host"):
        if isinstance(h, int) and not isinstance(h, bool) and h in self.fds:
            return h
        raise ValueError(f"bad {what}: {h!r} (expected a host number 1..{len(self.fds)})")

    def pairs(self, msg):
        def spec(key):
            return list(self.fds) if msg.get(key) == "*" else [self.host(msg.get(key), key)]
        return [(a, b) for a in spec("from") for b in spec("to") if a != b]

    def cmd_set(self, msg):
        updates = {}
        for key, attr, scale, limit in (("delay_ms", "delay", 1e-3, math.inf),
                                        ("jitter_ms", "jitter", 1e-3, math.inf),
                                        ("loss", "loss", 1, 1),
                                        ("duplicate", "duplicate", 1, 1)):
            if key in msg:
                value = msg[key]
                if isinstance(value, bool) or not isinstance(value, (int, float)) \
                        or not 0 <= value <= limit:  # also rejects NaN
                    raise ValueError(f"bad {key}: {value!r}")
                updates[attr] = value * scale
        pairs = self.pairs(msg)
        for pair in pairs:
            for attr, value in updates.items():
                setattr(self.links[pair], attr, value)
        return {"pairs": len(pairs)}

    def set_cut(self, msg, cut):
        pairs = self.pairs(msg)
        for pair in pairs:
            self.links[pair].cut = cut
        return {"pairs": len(pairs)}

    def cmd_cut(self, msg):
        return self.set_cut(msg, True)

    def cmd_restore(self, msg):
        return self.set_cut(msg, False)

    def cmd_partition(self, msg):
        groups = msg.get("groups")
        if not isinstance(groups, list) or not all(isinstance(g, list) for g in groups):
            raise ValueError("groups must be a list of lists of hosts")
        group_of = {}
        for index, group in enumerate(groups):
            for h in map(self.host, group):
                if group_of.setdefault(h, index) != index:
                    raise ValueError(f"host {h} is in two groups")
        cut = [(a, b) for (a, b) in self.links
               if a in group_of and b in group_of and group_of[a] != group_of[b]]
        for pair in cut:
            self.links[pair].cut = True
        return {"pairs": len(cut)}

    def cmd_heal(self, _msg):
        for link in self.links.values():
            link.cut = False
        return {}

    def cmd_reset(self, _msg):
        self.links = {pair: Link() for pair in self.links}
        return {}

    def cmd_stats(self, _msg):
        return {**self.stats, "queued": len(self.queue)}


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def serve(router, stop_fd):
    """Route packets and answer commands until stdin EOF or a stop signal."""
    # poll rather than epoll: epoll refuses regular files, which stdin may be.
    sel = selectors.PollSelector()
    for h, fd in router.fds.items():
        sel.register(fd, selectors.EVENT_READ, h)
    sel.register(sys.stdin.fileno(), selectors.EVENT_READ, "stdin")
    sel.register(stop_fd, selectors.EVENT_READ, "stop")
    pending = b""
    while True:
        timeout = max(0.0, router.queue[0][0] - time.monotonic()) if router.queue else None
        for key, _ in sel.select(timeout):
            if key.data == "stop":
                return
            if key.data == "stdin":
                chunk = os.read(key.fd, 65536)
                *lines, pending = (pending + chunk).split(b"\n")
                if not chunk:  # EOF: answer an unterminated last command, then stop
                    lines.append(pending)
                for line in lines:
                    if line.strip():
                        reply(router.command(line))
                if not chunk:
                    return
            elif not router.read_from(key.data, key.fd, time.monotonic()):
                sel.unregister(key.fd)
        router.deliver_due(time.monotonic())


def parse_args():
    parser = argparse.ArgumentParser(description="Namespace + TUN network fault bed.")
    sub = parser.add_subparsers(dest="action", required=True)
    up = sub.add_parser("up", help="create the hosts and run the router")
    up.add_argument("--hosts", type=int, required=True, help="number of hosts (1..254)")
    up.add_argument("--name", required=True, help="namespace prefix: PREFIX-h1 ...")
    up.add_argument("--subnet", default="10.77.0", help="first three octets (default 10.77.0)")
    args = parser.parse_args()
    if not 1 <= args.hosts <= 254:
        parser.error("--hosts must be in 1..254")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", args.name):
        parser.error("--name may contain only letters, digits, '_', '.', '-'")
    octets = args.subnet.split(".")
    if len(octets) != 3 or not all(o.isdigit() and int(o) <= 255 for o in octets):
        parser.error("--subnet must look like 10.77.0")
    return args


def main():
    args = parse_args()
    if os.geteuid() != 0:
        print("skipped: needs root", file=sys.stderr)
        return 77
    # Install the stop handlers before creating anything, so that a signal
    # during setup still leads to teardown instead of leaked namespaces.
    stop_r, stop_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(stop_w)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)

    remove_stale(args.name)
    namespaces, fds = [], {}
    addrs = {i: f"{args.subnet}.{i}" for i in range(1, args.hosts + 1)}
    try:
        for i, addr in addrs.items():
            namespaces.append(f"{args.name}-h{i}")
            fds[i] = make_host(namespaces[-1], addr)
        reply({"ready": True,
               "hosts": {str(i): a for i, a in addrs.items()},
               "netns": {str(i): ns for i, ns in enumerate(namespaces, 1)}})
        serve(Router(fds, addrs), stop_r)
    except subprocess.CalledProcessError as e:
        print(f"netbed: {' '.join(e.cmd)}: {e.stderr.strip()}", file=sys.stderr)
        return 1
    except OSError as e:  # no /dev/net/tun, broken stdout pipe, ...
        print(f"netbed: {e}", file=sys.stderr)
        return 1
    finally:
        for fd in fds.values():
            os.close(fd)
        for ns in namespaces:
            ip("netns", "del", ns, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
