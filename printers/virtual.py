"""A virtual Zebra printer: a real asyncio TCP server that keeps the labels it receives.

It takes ZPL on its print port (9100 by default), cuts the stream into labels
at `^XA … ^XZ`, keeps every complete label in memory (`labels`) and "prints"
each one to its own numbered file in `out_dir` (`label-000001.zpl`, written
atomically). A label whose connection drops before `^XZ` is discarded. `~HS`
gets a real host status reply reflecting the printer's state.

Like a real printer, while it is paused, out of paper or has its head open it
still accepts labels but holds them in its buffer (`~HS` counts them) and
prints them once the condition clears. Offline means it stops listening:
connections are refused until it comes back on the same port.

Switching state:
- in-process, with `set_paper_out()`, `set_paused()`, `set_head_open()`,
  `set_ribbon_out()` and `await set_offline()`;
- from another process, through a separate control port (bound to 127.0.0.1
  unless told otherwise): one command per line, answered with one JSON line of
  state. Commands: `state`, `paper-out on|off`, `paused on|off`,
  `head-open on|off`, `ribbon-out on|off`, `offline on|off`. `send_control()`
  is a client. Control lives on its own port, never on the print port, so no
  label data can ever switch the simulator.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from printers.status import build_host_status

log = logging.getLogger(__name__)

_START_OR_STATUS = re.compile(rb"\^XA|~HS", re.IGNORECASE)
_END = re.compile(rb"\^XZ", re.IGNORECASE)
_LABEL_FILE = re.compile(r"label-(\d+)\.zpl")
_CONDITIONS = {"paper-out": "paper_out", "paused": "paused", "head-open": "head_open", "ribbon-out": "ribbon_out"}


class VirtualPrinter:
    """Start with `await start()` (or `async with`), stop with `await stop()`."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        out_dir: Path | str | None = None,
        *,
        control_port: int | None = None,
        control_host: str = "127.0.0.1",
        thermal_transfer: bool = False,
        label_length_dots: int = 1218,
        max_label_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        self.host = host
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.control_host = control_host
        self.thermal_transfer = thermal_transfer
        self.label_length_dots = label_length_dots
        self.max_label_bytes = max_label_bytes
        self.labels: list[bytes] = []
        """Every complete label received, in order, printed or still buffered."""
        self.label_files: list[Path] = []
        self.partial_labels_dropped = 0
        self.paper_out = False
        self.paused = False
        self.head_open = False
        self.ribbon_out = False
        self.offline = False
        self._port = port
        self._control_port = control_port
        self._pending: list[bytes] = []
        self._next_number = 1
        self._server: asyncio.Server | None = None
        self._control_server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._in_label = 0
        self._waiters: list[asyncio.Future[None]] = []

    # lifecycle

    @property
    def port(self) -> int:
        return self._port

    @property
    def control_port(self) -> int | None:
        return self._control_port

    async def start(self) -> None:
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            numbers = [int(m.group(1)) for p in self.out_dir.iterdir() if (m := _LABEL_FILE.fullmatch(p.name))]
            self._next_number = max(numbers, default=0) + 1
        await self._listen()
        if self._control_port is not None:
            self._control_server = await asyncio.start_server(
                self._handle_control, self.control_host, self._control_port
            )
            self._control_port = self._control_server.sockets[0].getsockname()[1]
        log.info("virtual printer listening on %s:%s (control port %s)", self.host, self._port, self._control_port)

    async def stop(self) -> None:
        await self._close_print_server()
        if self._control_server is not None:
            self._control_server.close()
            await self._control_server.wait_closed()
            self._control_server = None
        await self._finish_tasks()

    async def __aenter__(self) -> VirtualPrinter:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle_print, self.host, self._port)
        self._port = self._server.sockets[0].getsockname()[1]

    async def _close_print_server(self) -> None:
        if self._server is not None:
            self._server.close()
            # drop open connections before waiting: from 3.12 wait_closed() waits for them
            for writer in list(self._writers):
                writer.transport.abort()
            await self._server.wait_closed()
            self._server = None

    async def _finish_tasks(self) -> None:
        tasks = [task for task in self._tasks if task is not asyncio.current_task()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # state

    def set_paper_out(self, value: bool = True) -> None:
        self._set("paper_out", value)

    def set_paused(self, value: bool = True) -> None:
        self._set("paused", value)

    def set_head_open(self, value: bool = True) -> None:
        self._set("head_open", value)

    def set_ribbon_out(self, value: bool = True) -> None:
        self._set("ribbon_out", value)

    async def set_offline(self, value: bool = True) -> None:
        """Offline closes the print port (and drops open connections); online reopens the same port."""
        if value == self.offline:
            return
        self.offline = value
        if value:
            await self._close_print_server()
        else:
            await self._listen()
        log.info("virtual printer on port %s is %s", self._port, "offline" if value else "online")
        self._notify()

    def _set(self, condition: str, value: bool) -> None:
        setattr(self, condition, bool(value))
        log.info("virtual printer on port %s: %s=%s", self._port, condition, bool(value))
        self._print_pending()
        self._notify()

    @property
    def can_print(self) -> bool:
        ribbon_missing = self.ribbon_out and self.thermal_transfer
        return not (self.paper_out or self.paused or self.head_open or ribbon_missing)

    @property
    def pending(self) -> int:
        """Labels received but held in the buffer."""
        return len(self._pending)

    def host_status(self) -> bytes:
        return build_host_status(
            paper_out=self.paper_out,
            paused=self.paused,
            head_open=self.head_open,
            ribbon_out=self.ribbon_out,
            partial_format=self._in_label > 0,
            thermal_transfer=self.thermal_transfer,
            formats_in_buffer=len(self._pending),
            labels_remaining=len(self._pending),
            label_length_dots=self.label_length_dots,
        )

    def state(self) -> dict[str, Any]:
        return {
            "port": self._port,
            "paper_out": self.paper_out,
            "paused": self.paused,
            "head_open": self.head_open,
            "ribbon_out": self.ribbon_out,
            "offline": self.offline,
            "labels_received": len(self.labels),
            "labels_printed": len(self.label_files),
            "pending": len(self._pending),
            "partial_labels_dropped": self.partial_labels_dropped,
        }

    # waiting, for tests and demos

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until predicate() holds; it is re-checked whenever the printer's state changes."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            while not predicate():
                waiter: asyncio.Future[None] = loop.create_future()
                self._waiters.append(waiter)
                await waiter

    async def wait_for_labels(self, count: int, timeout: float = 10.0) -> list[bytes]:
        await self.wait_for(lambda: len(self.labels) >= count, timeout)
        return list(self.labels)

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # print port

    async def _handle_print(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        peer = writer.get_extra_info("peername")
        buffer = bytearray()
        in_label = False
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                buffer += chunk
                in_label = await self._consume(buffer, in_label, writer)
                if len(buffer) > self.max_label_bytes:
                    log.warning("virtual printer: %s sent a label over %d bytes; dropping it", peer, self.max_label_bytes)
                    break
        except (ConnectionError, OSError) as exc:
            log.info("virtual printer: connection from %s ended: %s", peer, exc)
        finally:
            if in_label:
                self._in_label -= 1
                self.partial_labels_dropped += 1
                log.warning("virtual printer: %s closed mid-label; %d bytes discarded", peer, len(buffer))
            self._writers.discard(writer)
            writer.close()
            if task is not None:
                self._tasks.discard(task)
            self._notify()

    async def _consume(self, buffer: bytearray, in_label: bool, writer: asyncio.StreamWriter) -> bool:
        """Take complete labels and `~HS` queries off the front of the buffer; return whether mid-label."""
        while True:
            if not in_label:
                match = _START_OR_STATUS.search(buffer)
                if match is None:
                    # keep a possible half command ("^X", "~H") for the next read
                    del buffer[: max(0, len(buffer) - 2)]
                    return False
                if match.group().upper() == b"~HS":
                    del buffer[: match.end()]
                    writer.write(self.host_status())
                    await writer.drain()
                    continue
                del buffer[: match.start()]
                in_label = True
                self._in_label += 1
            end = _END.search(buffer, 3)
            if end is None:
                return True
            label = bytes(buffer[: end.end()])
            del buffer[: end.end()]
            in_label = False
            self._in_label -= 1
            self._receive(label)

    def _receive(self, label: bytes) -> None:
        self.labels.append(label)
        self._pending.append(label)
        self._print_pending()
        self._notify()

    def _print_pending(self) -> None:
        while self._pending and self.can_print:
            label = self._pending.pop(0)
            if self.out_dir is not None:
                path = self.out_dir / f"label-{self._next_number:06d}.zpl"
                # write then rename, so a watcher never sees half a label
                temporary = path.with_suffix(".tmp")
                temporary.write_bytes(label)
                os.replace(temporary, path)
                self.label_files.append(path)
            self._next_number += 1

    # control port

    async def _handle_control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                reply = await self.control(line[:200].decode("ascii", errors="replace").strip())
                writer.write(json.dumps(reply).encode("ascii") + b"\n")
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    async def control(self, command: str) -> dict[str, Any]:
        """Apply one control command (see the module docstring) and return the state or an error."""
        words = command.lower().split()
        if words == ["state"]:
            return self.state()
        if len(words) == 2 and words[1] in ("on", "off"):
            value = words[1] == "on"
            if words[0] in _CONDITIONS:
                self._set(_CONDITIONS[words[0]], value)
                return self.state()
            if words[0] == "offline":
                await self.set_offline(value)
                return self.state()
        return {"error": "unknown_command", "command": command}


def send_control(host: str, port: int, command: str, timeout: float = 3.0) -> dict[str, Any]:
    """Send one command to a virtual printer's control port and return its JSON answer."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(command.encode("ascii") + b"\n")
        reply = bytearray()
        while not reply.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    return json.loads(reply)


def run_virtual_printer(
    host: str, port: int, out_dir: Path | str, control_port: int | None = None
) -> None:
    """Run a virtual printer until interrupted (for `wes printer-sim`)."""

    async def serve() -> None:
        printer = VirtualPrinter(host, port, out_dir, control_port=control_port)
        await printer.start()
        print(
            f"virtual printer on {host}:{printer.port}, labels in {out_dir}"
            + (f", control on {printer.control_host}:{printer.control_port}" if control_port is not None else ""),
            flush=True,
        )
        try:
            await asyncio.Event().wait()
        finally:
            await printer.stop()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m printers.virtual", description="Run a virtual Zebra printer.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--dir", required=True, help="folder for the received labels")
    parser.add_argument("--control-port", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    run_virtual_printer(args.host, args.port, args.dir, args.control_port)


if __name__ == "__main__":
    main()
