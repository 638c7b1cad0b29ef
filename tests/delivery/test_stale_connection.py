"""A peer that closes a kept-alive connection is not a failed delivery: the sender sends again at once."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from server.context import outbound_transport
from server.federation.sender import DeliverySender

RESPONSE = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"


async def serve_then_drop(answered: list[bytes]) -> asyncio.Server:
    """Answers the first request of a connection (announcing keep-alive); a second request on the same
    connection is read and the connection closed without an answer: the race of a peer closing an idle
    connection just as it is reused."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for number in range(2):
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.lower().split(b"\r\n")
            length = next(
                (int(line.split(b":")[1]) for line in lines if line.startswith(b"content-length")), 0
            )
            body = await reader.readexactly(length)
            if number == 1:
                break
            answered.append(body)
            writer.write(RESPONSE)
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def test_a_connection_closed_by_the_peer_is_retried_once() -> None:
    answered: list[bytes] = []
    server = await serve_then_drop(answered)
    port = server.sockets[0].getsockname()[1]
    async with httpx.AsyncClient(transport=outbound_transport()) as http:
        for n in range(3):
            request = http.build_request("POST", f"http://127.0.0.1:{port}/inbox", content=f"{n}".encode())
            response = await DeliverySender._send(http, request, httpx.Auth())  # type: ignore[arg-type]
            assert response.status_code == 202
    server.close()
    assert answered == [b"0", b"1", b"2"]


async def test_a_peer_that_refuses_connections_is_not_retried_in_a_loop() -> None:
    with socket.socket() as sock:  # a port on loopback with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with httpx.AsyncClient(transport=outbound_transport()) as http:
        request = http.build_request("POST", f"http://127.0.0.1:{port}/inbox", content=b"x")
        with pytest.raises(httpx.TransportError):
            await DeliverySender._send(http, request, httpx.Auth())  # type: ignore[arg-type]
