#!/usr/bin/python3
"""Fault-injecting TCP relay for the chaos scenarios: listens on a port, forwards to an upstream
host:port, and is switched at runtime between these modes (per link, over a control socket):

  pass       forward at once
  latency    delay every chunk by delay_ms +- jitter_ms (order kept, so data is pipelined, not
             serialised behind the delay)
  loss       latency, plus: each chunk is "lost" with probability `loss` and then arrives
             stall_ms (x0.5..1.5) late, together with everything behind it
  blackhole  a partition: read nothing, forward nothing, accept new connections and hold them
  reset      close every open connection with RST, and RST new ones as they arrive

TCP cannot drop bytes through a relay: the relay terminates both connections, so the kernel
acknowledges and retransmits on each side on its own. What an application sees of a lost segment
on a real network is a stall of about one retransmission timeout (200 ms minimum on Linux) after
which the segment and the ones queued behind it arrive at once; `loss` emulates exactly that, per
chunk read (one chunk is whatever one recv() returned, up to 64 KiB). It does not emulate the
throughput collapse of sustained loss. A blackhole that heals delivers what was held, as TCP does
after a partition shorter than its retransmission limit; `reset` emulates the other ending, where
a peer or a middlebox gave up on the connections.

A link's listening or upstream side may live in a network namespace (`ip netns`): this is how
scripts/devcluster puts a relay between one process and addresses it still spells 127.0.0.1.

  fault_relay.py serve SPEC.json
  fault_relay.py ctl HOST:PORT set MODE [--links NAME,...] [--delay-ms N] [--jitter-ms N]
                                        [--loss P] [--stall-ms N]
  fault_relay.py ctl HOST:PORT status

SPEC.json: {"control": "127.0.0.1:PORT", "links": [{"name": "memcached1",
  "listen": "127.0.0.1:P", "listen_netns": "NS" or null, "upstream": "127.0.0.1:P",
  "upstream_netns": null, "fixed": false}]}. A "fixed" link (e.g. a metrics port) always passes
unless named explicitly. The control protocol is one JSON object per line each way:
{"cmd": "set", "mode": "latency", "links": [...], "delay_ms": 40} and {"cmd": "status"}.
"""
import argparse
import asyncio
import ctypes
import fnmatch
import json
import os
import random
import signal
import socket
import struct
import time

MODES = ("pass", "latency", "loss", "blackhole", "reset")
DEFAULT_PARAMS = {"delay_ms": 0.0, "jitter_ms": 0.0, "loss": 0.0, "stall_ms": 200.0}
CHUNK = 65536
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def split_host_port(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def _setns(path):
    with open(path) as f:
        if _libc.setns(f.fileno(), CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({path}): {os.strerror(err)}")


def socket_in(netns):
    """A TCP socket created inside network namespace `netns` (None: this process's own). A socket
    keeps the namespace it was created in, so the thread switches back at once."""
    if not netns:
        return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _setns(f"/run/netns/{netns}")
        try:
            return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        finally:
            if _libc.setns(home, CLONE_NEWNET) != 0:
                os._exit(70)  # stuck in the wrong namespace: nothing after this would be right
    finally:
        os.close(home)


def rst_close(writer):
    """Closes a connection with RST rather than FIN (SO_LINGER with a zero timeout)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


class Link:
    def __init__(self, spec):
        self.name = spec["name"]
        self.listen = split_host_port(spec["listen"])
        self.listen_netns = spec.get("listen_netns")
        self.upstream = split_host_port(spec["upstream"])
        self.upstream_netns = spec.get("upstream_netns")
        self.fixed = bool(spec.get("fixed", False))
        self.mode = "pass"
        self.params = dict(DEFAULT_PARAMS)
        self.flowing = asyncio.Event()  # clear while blackholed
        self.flowing.set()
        self.conns = set()  # Connection
        self.counters = {"accepted": 0, "resets": 0, "upstream_failures": 0, "stalls": 0,
                         "bytes_to_upstream": 0, "bytes_to_client": 0}

    def set_mode(self, mode, params):
        self.mode = mode
        self.params = {k: float(params.get(k, v)) for k, v in DEFAULT_PARAMS.items()}
        if mode == "blackhole":
            self.flowing.clear()
        else:
            self.flowing.set()
        if mode == "reset":
            for conn in list(self.conns):
                conn.reset()

    def chunk_delay(self):
        """Seconds to hold one chunk under the current mode."""
        if self.mode not in ("latency", "loss"):
            return 0.0
        p = self.params
        d = max(0.0, p["delay_ms"] + random.uniform(-p["jitter_ms"], p["jitter_ms"]))
        if self.mode == "loss" and random.random() < p["loss"]:
            self.counters["stalls"] += 1
            d += p["stall_ms"] * random.uniform(0.5, 1.5)
        return d / 1000.0

    def status(self):
        return {"mode": self.mode, "params": self.params, "open": len(self.conns),
                "listen": "%s:%d" % self.listen, "listen_netns": self.listen_netns,
                "upstream": "%s:%d" % self.upstream, "upstream_netns": self.upstream_netns,
                **self.counters}


class Connection:
    """One client connection and its upstream, as two one-way pumps."""

    def __init__(self, link, client_reader, client_writer):
        self.link = link
        self.client = (client_reader, client_writer)
        self.upstream = None
        self.runner = None
        self.was_reset = False

    def reset(self):
        """RST both sides (an RST from one side is passed on to the other, as it would arrive)."""
        if self.was_reset:
            return
        self.was_reset = True
        self.link.counters["resets"] += 1
        for _, w in filter(None, (self.client, self.upstream)):
            rst_close(w)
        if self.runner is not None and self.runner is not asyncio.current_task():
            self.runner.cancel()

    async def run(self):
        link = self.link
        self.runner = asyncio.current_task()
        link.conns.add(self)
        try:
            # A partition also holds connection set-up: nothing reaches the upstream until it heals.
            await link.flowing.wait()
            if link.mode == "reset":
                return self.reset()
            try:
                sock = socket_in(link.upstream_netns)
                sock.setblocking(False)
                loop = asyncio.get_running_loop()
                await asyncio.wait_for(loop.sock_connect(sock, link.upstream), timeout=5)
                self.upstream = await asyncio.open_connection(sock=sock)
            except (OSError, asyncio.TimeoutError):
                link.counters["upstream_failures"] += 1
                return self.reset()
            await asyncio.gather(self._pump(self.client[0], self.upstream[1], "bytes_to_upstream"),
                                 self._pump(self.upstream[0], self.client[1], "bytes_to_client"))
        except asyncio.CancelledError:
            pass
        finally:
            link.conns.discard(self)
            for _, w in filter(None, (self.client, self.upstream)):
                if not self.was_reset:
                    w.close()

    async def _pump(self, reader, writer, counter):
        """One direction. The reader stamps each chunk with its due time and queues it; the writer
        sends it when due, so a delay shifts the stream rather than throttling it."""
        queue = asyncio.Queue(maxsize=256)
        last_due = 0.0

        async def read_side():
            nonlocal last_due
            while True:
                await self.link.flowing.wait()  # blackhole: read nothing, buffers fill up
                try:
                    data = await reader.read(CHUNK)
                except (OSError, ConnectionError):
                    return self.reset()
                due = max(last_due, time.monotonic() + self.link.chunk_delay())
                last_due = due
                await queue.put((due, data))
                if not data:
                    return

        reading = asyncio.ensure_future(read_side())
        try:
            while True:
                due, data = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                await self.link.flowing.wait()
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                self.link.counters[counter] += len(data)
                await writer.drain()
        except (OSError, ConnectionError):
            self.reset()
        finally:
            reading.cancel()


class Relay:
    def __init__(self, spec):
        self.spec = spec
        self.links = [Link(s) for s in spec["links"]]
        self.servers = []

    async def start(self):
        for link in self.links:
            sock = socket_in(link.listen_netns)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(link.listen)
            sock.listen(256)
            sock.setblocking(False)
            self.servers.append(await asyncio.start_server(
                lambda r, w, link=link: self._accept(link, r, w), sock=sock))
        host, port = split_host_port(self.spec["control"])
        self.servers.append(await asyncio.start_server(self._control, host, port))

    async def _accept(self, link, reader, writer):
        link.counters["accepted"] += 1
        if link.mode == "reset":
            link.counters["resets"] += 1
            return rst_close(writer)
        await Connection(link, reader, writer).run()

    def select(self, names):
        if not names:
            return [l for l in self.links if not l.fixed]
        chosen = [l for l in self.links if any(fnmatch.fnmatch(l.name, n) for n in names)]
        if not chosen:
            raise ValueError(f"no link matches {names}; links are "
                             f"{[l.name for l in self.links]}")
        return chosen

    def command(self, request):
        cmd = request.get("cmd")
        if cmd == "status":
            return {"ok": True, "links": {l.name: l.status() for l in self.links}}
        if cmd == "set":
            mode = request.get("mode")
            if mode not in MODES:
                raise ValueError(f"mode must be one of {', '.join(MODES)}")
            links = self.select(request.get("links"))
            for link in links:
                link.set_mode(mode, request)
            return {"ok": True, "links": [l.name for l in links]}
        raise ValueError('cmd must be "set" or "status"')

    async def _control(self, reader, writer):
        try:
            while line := await reader.readline():
                try:
                    reply = self.command(json.loads(line))
                except (ValueError, TypeError, AttributeError) as e:
                    reply = {"ok": False, "error": str(e)}
                writer.write((json.dumps(reply) + "\n").encode())
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


class RelayControl:
    """Client of a running relay's control socket (used by the e2e harness)."""

    def __init__(self, address, timeout=5.0):
        self.address = split_host_port(address)
        self.timeout = timeout

    def request(self, **request):
        with socket.create_connection(self.address, timeout=self.timeout) as s:
            s.sendall((json.dumps(request) + "\n").encode())
            buf = b""
            while not buf.endswith(b"\n"):
                part = s.recv(65536)
                if not part:
                    break
                buf += part
        reply = json.loads(buf)
        if not reply.get("ok"):
            raise RuntimeError(f"relay {self.address}: {reply.get('error')}")
        return reply

    def set(self, mode, links=None, **params):
        return self.request(cmd="set", mode=mode, links=links, **params)["links"]

    def status(self):
        return self.request(cmd="status")["links"]


def serve(spec_path):
    with open(spec_path) as f:
        spec = json.load(f)
    loop = asyncio.new_event_loop()
    relay = Relay(spec)
    loop.run_until_complete(relay.start())
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"fault_relay: {len(relay.links)} links, control on {spec['control']}", flush=True)
    loop.run_until_complete(stop.wait())
    for server in relay.servers:
        server.close()
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve")
    p_serve.add_argument("spec")
    p_ctl = sub.add_parser("ctl")
    p_ctl.add_argument("control", metavar="HOST:PORT")
    p_ctl.add_argument("action", choices=["set", "status"])
    p_ctl.add_argument("mode", nargs="?", choices=MODES)
    p_ctl.add_argument("--links", help="comma-separated names or globs (default: every link "
                                       "not marked fixed)")
    p_ctl.add_argument("--delay-ms", type=float, default=0.0)
    p_ctl.add_argument("--jitter-ms", type=float, default=0.0)
    p_ctl.add_argument("--loss", type=float, default=0.0)
    p_ctl.add_argument("--stall-ms", type=float, default=200.0)
    args = parser.parse_args()
    if args.command == "serve":
        return serve(args.spec)
    ctl = RelayControl(args.control)
    if args.action == "status":
        print(json.dumps(ctl.status(), indent=2))
        return
    if not args.mode:
        parser.error("set needs a mode: " + ", ".join(MODES))
    links = args.links.split(",") if args.links else None
    print(" ".join(ctl.set(args.mode, links, delay_ms=args.delay_ms, jitter_ms=args.jitter_ms,
                           loss=args.loss, stall_ms=args.stall_ms)) + ": " + args.mode)


if __name__ == "__main__":
    main()
