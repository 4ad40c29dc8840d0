"""A 3-node JetStream cluster for the tests, in a temporary folder: nats-server processes with
cluster routes on free local ports. Started once for tests/relay (it takes seconds to elect its
leaders); a test that kills a server revives it before the next one starts."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import time
from pathlib import Path

import nats


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


class Cluster:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        ports = free_ports(6)
        self.client, self.routes = ports[:3], ports[3:]
        self.urls = [f"nats://127.0.0.1:{port}" for port in self.client]
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def _command(self, n: int) -> list[str]:
        others = ",".join(f"nats://127.0.0.1:{p}" for i, p in enumerate(self.routes) if i != n)
        return [
            "nats-server",
            "-js",
            "-sd",
            str(self.folder / f"n{n}"),
            "-n",
            f"n{n}",
            "-a",
            "127.0.0.1",
            "-p",
            str(self.client[n]),
            "--cluster_name",
            "C",
            "--cluster",
            f"nats://127.0.0.1:{self.routes[n]}",
            "--routes",
            others,
        ]

    def _start(self, n: int) -> None:
        log = (self.folder / f"n{n}.log").open("ab")
        self.processes[self.urls[n]] = subprocess.Popen(self._command(n), stdout=log, stderr=log)

    def start(self) -> None:
        for n in range(3):
            self._start(n)
        asyncio.run(self.ready())

    def __getitem__(self, url: str) -> subprocess.Popen[bytes]:
        return self.processes[url]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.urls)

    def alive(self) -> list[str]:
        return [url for url in self.urls if self.processes[url].poll() is None]

    def kill(self, server_name: str) -> str:
        """SIGKILL the server called ``server_name`` (``n0``..``n2``); its URL."""
        url = self.urls[int(server_name[1:])]
        self.processes[url].send_signal(signal.SIGKILL)
        self.processes[url].wait()
        return url

    def revive(self) -> None:
        """Restart every killed server from its own data folder; wait for JetStream."""
        dead = [n for n, url in enumerate(self.urls) if self.processes[url].poll() is not None]
        for n in dead:
            self._start(n)
        if dead:
            asyncio.run(self.ready())

    def stop(self) -> None:
        for process in self.processes.values():
            process.kill()
            process.wait()

    async def ready(self) -> None:
        """Until the cluster's JetStream answers on every server (its meta leader is elected)."""
        deadline = time.monotonic() + 15
        for url in self.urls:
            while True:
                try:
                    nc = await nats.connect(servers=[url], connect_timeout=1)
                    try:
                        await nc.jetstream(timeout=1).account_info()
                        break
                    finally:
                        await nc.close()
                except (TimeoutError, nats.errors.Error, OSError):
                    assert time.monotonic() < deadline, "the JetStream cluster did not form"
                    await asyncio.sleep(0.1)


async def kill_leader_when(cluster: Cluster, stream: str, messages: int, within: float) -> str:
    """Once the stream holds ``messages``, SIGKILL the server leading it; the server's name
    ("" if it never got that far within ``within`` seconds)."""
    nc = await nats.connect(servers=cluster.urls)
    js = nc.jetstream(timeout=1)
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            try:
                info = await js.stream_info(stream)
            except (TimeoutError, nats.errors.Error):
                await asyncio.sleep(0.01)
                continue
            if info.state.messages >= messages and info.cluster and info.cluster.leader:
                cluster.kill(info.cluster.leader)
                return info.cluster.leader
            await asyncio.sleep(0.005)
        return ""
    finally:
        await nc.close()
