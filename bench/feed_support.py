"""Helpers for the feed benchmark: serve an app factory in a subprocess, drive load, summarise."""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from httpx_aiohttp import AiohttpTransport


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


def serve(factory: str, env: dict[str, str], log: Path, *, workers: int = 1) -> Server:
    """`factory` ('module:function') served by uvicorn in its own process (`workers` processes behind one
    socket when more than one), the same way for every app."""
    port = free_port()
    handle = log.open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            factory,
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            *(["--workers", str(workers)] if workers > 1 else []),
        ],
        env={**os.environ, **env},
        stdout=handle,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parent.parent,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/healthz", timeout=2)
            return Server(process, url)
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"server did not start; see {log}") from None
            time.sleep(0.2)


@dataclass
class Result:
    count: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        index = min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))
        return ordered[index]

    def line(self, label: str) -> str:
        rate = self.count / self.seconds if self.seconds else 0.0
        return (
            f"{label:<34} p50 {self.percentile(50):7.1f} ms   p99 {self.percentile(99):7.1f} ms   "
            f"mean {statistics.fmean(self.latencies_ms):6.1f} ms   {rate:7.0f} req/s   errors {self.errors}"
        )


async def drive(
    url: str, paths: Sequence[tuple[str, dict[str, str]]], *, concurrency: int, total: int
) -> Result:
    """`total` GETs cycling over `paths` (path, headers), `concurrency` at a time."""
    latencies: list[float] = []
    errors = 0
    counter = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    transport = AiohttpTransport(limits=limits)  # the lighter client leaves more of the CPU to the server
    async with httpx.AsyncClient(base_url=url, timeout=30, transport=transport) as client:

        async def worker() -> None:
            nonlocal counter, errors
            while counter < total:
                path, headers = paths[counter % len(paths)]
                counter += 1
                started = time.perf_counter()
                response = await client.get(path, headers=headers)
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Result(count=len(latencies), errors=errors, seconds=elapsed, latencies_ms=latencies)
