"""A TCP proxy in front of a service of the local stack, for fault injection (the toxiproxy
pattern): the object store keeps its data in memory and the search cluster takes a minute to
restart, so "unreachable" is made here instead of by killing them. SIGUSR1: stop listening and
drop every open connection (clients get "connection refused"); SIGUSR2: listen again. While it
refuses, a marker file `<run dir>/<name>.refusing` says so (`fraudctl local status` shows it)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from pathlib import Path

log = logging.getLogger("fraudctl.faultproxy")


def refusing_marker(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}.refusing"


class Proxy:
    def __init__(self, listen: tuple[str, int], target: tuple[str, int], marker: Path) -> None:
        self.listen, self.target, self.marker = listen, target, marker
        self.server: asyncio.Server | None = None
        self.open: set[asyncio.StreamWriter] = set()

    async def accept(self) -> None:
        if self.server is None:
            self.server = await asyncio.start_server(self._client, *self.listen, reuse_address=True)
            self.marker.unlink(missing_ok=True)
            log.info("listening on %s:%d -> %s:%d", *self.listen, *self.target)

    async def refuse(self) -> None:
        self.marker.write_text("refusing connections (fault injected)\n")
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        for writer in list(self.open):
            writer.transport.abort()
        log.info("refusing connections on %s:%d", *self.listen)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()  # the service behind is down: the client sees its connection reset
            return
        self.open |= {writer, up_writer}
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self.open -= {writer, up_writer}
            for w in (writer, up_writer):
                w.transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        with contextlib.suppress(OSError, RuntimeError):
            writer.write_eof()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


async def _serve(proxy: Proxy) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGUSR1, lambda: asyncio.ensure_future(proxy.refuse()))
    loop.add_signal_handler(signal.SIGUSR2, lambda: asyncio.ensure_future(proxy.accept()))
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await proxy.accept()
    await stop.wait()
    proxy.marker.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m fraudctl.localstack.faultproxy", description=__doc__)
    parser.add_argument("--listen", required=True, help="HOST:PORT")
    parser.add_argument("--target", required=True, help="HOST:PORT")
    parser.add_argument("--marker", required=True, type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(_serve(Proxy(_address(args.listen), _address(args.target), args.marker)))


if __name__ == "__main__":
    main()
