#!/usr/bin/env python3
"""A TCP relay that records what crosses it, for looking at dskit's transport.

    tests/interop/tcp-tap.py LISTEN_PORT UPSTREAM_HOST:PORT [--dir DIR] [--bind IP]

Listens on BIND (default 127.0.0.1):LISTEN_PORT and relays every accepted
connection to UPSTREAM, byte for byte, in both directions. When a connection
has ended, prints its two byte streams as hex dumps on stdout (one block per
direction: "c2s" is from the connecting side, "s2c" the answer) and, with
--dir, also writes them to DIR/conn-N.c2s.bin and DIR/conn-N.s2c.bin.

To see a node's inbound traffic, start it with --advertise-addr 127.0.0.1
--advertise-port LISTEN_PORT (the dskit transport then also writes that
address into each packet it sends) and point the tap at its real port: every
member then connects to it through the tap. Stop with Ctrl-C or SIGTERM.
"""

import argparse
import os
import signal
import socket
import sys
import threading

lock = threading.Lock()
counter = 0


def hexdump(data, width=16):
    lines = []
    for off in range(0, len(data), width):
        chunk = data[off : off + width]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{off:08x}  {hexes:<{width * 3 - 1}}  |{text}|")
    return "\n".join(lines)


def pump(src, dst, sink):
    """Copies src to dst until EOF, recording the bytes; then half-closes dst."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            sink.extend(data)
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def relay(client, peer, upstream, outdir):
    global counter
    with lock:
        counter += 1
        n = counter
    c2s, s2c = bytearray(), bytearray()
    try:
        server = socket.create_connection(upstream, timeout=5)
        server.settimeout(None)
    except OSError as e:
        with lock:
            print(f"== conn {n} from {peer[0]}:{peer[1]}: upstream failed: {e}", flush=True)
        client.close()
        return
    back = threading.Thread(target=pump, args=(server, client, s2c), daemon=True)
    back.start()
    pump(client, server, c2s)
    back.join()
    client.close()
    server.close()
    with lock:
        print(f"== conn {n} from {peer[0]}:{peer[1]}", flush=True)
        for name, data in (("c2s", c2s), ("s2c", s2c)):
            print(f"-- {name}: {len(data)} bytes", flush=True)
            if data:
                print(hexdump(bytes(data)), flush=True)
            if outdir:
                with open(os.path.join(outdir, f"conn-{n}.{name}.bin"), "wb") as f:
                    f.write(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("listen_port", type=int)
    ap.add_argument("upstream", help="HOST:PORT")
    ap.add_argument("--dir", help="also write each direction to DIR/conn-N.{c2s,s2c}.bin")
    ap.add_argument("--bind", default="127.0.0.1")
    args = ap.parse_args()
    host, _, port = args.upstream.rpartition(":")
    upstream = (host.strip("[]"), int(port))
    if args.dir:
        os.makedirs(args.dir, exist_ok=True)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ln = socket.create_server((args.bind, args.listen_port))
    print(f"tcp-tap: {args.bind}:{args.listen_port} -> {args.upstream}", flush=True)
    try:
        while True:
            client, peer = ln.accept()
            threading.Thread(
                target=relay, args=(client, peer, upstream, args.dir), daemon=True
            ).start()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
