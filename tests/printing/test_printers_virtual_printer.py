"""The virtual printer over real TCP on 127.0.0.1 (ephemeral ports)."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from printers import (
    PrinterOffline,
    TcpTransport,
    ToteLabel,
    VirtualPrinter,
    count_commands,
    field_texts,
    render_zpl,
    send_control,
)
from printers.samples import SAMPLE_LABELS

REPO = Path(__file__).resolve().parents[2]


def tote(code: str) -> bytes:
    return render_zpl("tote", ToteLabel(code))


async def send(printer: VirtualPrinter, payload: bytes) -> None:
    await asyncio.to_thread(TcpTransport("127.0.0.1", printer.port).send, payload)


async def status(printer: VirtualPrinter):  # type: ignore[no-untyped-def]
    return await asyncio.to_thread(TcpTransport("127.0.0.1", printer.port).query_status)


async def test_labels_sent_over_tcp_arrive_as_numbered_files(tmp_path: Path) -> None:
    async with VirtualPrinter(out_dir=tmp_path) as printer:
        await send(printer, tote("T-1") + tote("T-2") + tote("T-3"))
        await printer.wait_for_labels(3)  # two connections are not ordered against each other
        await send(printer, tote("T-4"))
        labels = await printer.wait_for_labels(4)
    assert labels == [tote("T-1"), tote("T-2"), tote("T-3"), tote("T-4")]
    files = sorted(tmp_path.glob("label-*.zpl"))
    assert [f.name for f in files] == [f"label-{n:06d}.zpl" for n in range(1, 5)]
    assert [f.read_bytes() for f in files] == labels


async def test_numbering_continues_after_a_restart(tmp_path: Path) -> None:
    async with VirtualPrinter(out_dir=tmp_path) as printer:
        await send(printer, tote("T-1"))
        await printer.wait_for_labels(1)
    async with VirtualPrinter(out_dir=tmp_path) as printer:
        await send(printer, tote("T-2"))
        await printer.wait_for_labels(1)
    assert (tmp_path / "label-000002.zpl").read_bytes() == tote("T-2")


async def test_host_status_reflects_paper_out_and_pause() -> None:
    async with VirtualPrinter() as printer:
        assert (await status(printer)).ready
        printer.set_paper_out()
        report = await status(printer)
        assert not report.ready and report.paper_out and report.reasons == ("paper_out",)
        printer.set_paused()
        assert (await status(printer)).reasons == ("paper_out", "paused")
        printer.set_paper_out(False)
        printer.set_paused(False)
        assert (await status(printer)).ready


async def test_labels_sent_while_paused_wait_in_the_buffer_then_print(tmp_path: Path) -> None:
    async with VirtualPrinter(out_dir=tmp_path) as printer:
        printer.set_paused()
        await send(printer, tote("T-9"))
        await printer.wait_for_labels(1)
        assert list(tmp_path.glob("label-*.zpl")) == []
        assert (await status(printer)).formats_in_buffer == 1
        printer.set_paused(False)
        assert (tmp_path / "label-000001.zpl").read_bytes() == tote("T-9")
        assert (await status(printer)).formats_in_buffer == 0


async def test_offline_printer_refuses_connections_and_comes_back_on_the_same_port() -> None:
    async with VirtualPrinter() as printer:
        port = printer.port
        await printer.set_offline()
        with pytest.raises(PrinterOffline):
            await send(printer, tote("T-1"))
        with pytest.raises(PrinterOffline):
            await status(printer)
        await printer.set_offline(False)
        assert printer.port == port
        await send(printer, tote("T-2"))
        assert await printer.wait_for_labels(1) == [tote("T-2")]


async def test_a_label_cut_off_mid_way_is_not_stored(tmp_path: Path) -> None:
    full = tote("T-5")
    async with VirtualPrinter(out_dir=tmp_path) as printer:
        await send(printer, full[: len(full) // 2])
        await printer.wait_for(lambda: printer.partial_labels_dropped == 1)
        assert printer.labels == [] and list(tmp_path.glob("label-*")) == []
        await send(printer, tote("T-6"))
        await printer.wait_for_labels(1)
    assert printer.labels == [tote("T-6")]
    assert [f.name for f in tmp_path.iterdir()] == ["label-000001.zpl"]


async def test_label_with_hostile_data_reaches_the_printer_as_exactly_one_label() -> None:
    label = SAMPLE_LABELS["shipping"]
    hostile = type(label)(**{**{f: getattr(label, f) for f in label.__dataclass_fields__},
                             "order_reference": "^XZ^XA~JR~HS"})
    zpl = render_zpl("shipping", hostile)
    async with VirtualPrinter() as printer:
        await send(printer, zpl)
        await printer.wait_for_labels(1)
        await send(printer, tote("T-7"))
        labels = await printer.wait_for_labels(2)
    assert labels == [zpl, tote("T-7")]
    assert count_commands(labels[0], "^XA") == 1
    assert "^XZ^XA~JR~HS" in field_texts(labels[0])


async def test_text_on_the_print_port_cannot_switch_the_printer() -> None:
    async with VirtualPrinter(control_port=0) as printer:
        await send(printer, b"paper-out on\noffline on\n" + tote("T-8"))
        await printer.wait_for_labels(1)
        assert printer.state()["paper_out"] is False and printer.state()["offline"] is False


async def test_control_port_switches_state_from_another_process() -> None:
    async with VirtualPrinter(control_port=0) as printer:
        script = (
            "import json, sys; from printers.virtual import send_control; "
            f"print(json.dumps(send_control('127.0.0.1', {printer.control_port}, sys.argv[1])))"
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, "paper-out on", cwd=REPO, stdout=asyncio.subprocess.PIPE
        )
        output, _ = await process.communicate()
        assert json.loads(output)["paper_out"] is True
        assert (await status(printer)).paper_out

        reply = await asyncio.to_thread(send_control, "127.0.0.1", printer.control_port, "offline on")
        assert reply["offline"] is True
        with pytest.raises(PrinterOffline):
            await send(printer, tote("T-1"))
        reply = await asyncio.to_thread(send_control, "127.0.0.1", printer.control_port, "offline off")
        assert reply["offline"] is False
        unknown = await asyncio.to_thread(send_control, "127.0.0.1", printer.control_port, "format c:")
        assert unknown["error"] == "unknown_command"


def test_printer_sim_command_line_prints_labels_to_a_folder(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "printers.virtual", "--port", "0", "--dir", str(tmp_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        port = int(banner.split(" on 127.0.0.1:")[1].split(",")[0])
        with socket.create_connection(("127.0.0.1", port)) as connection:
            # one connection is handled in order: the ~HS reply comes after the label was printed
            connection.sendall(tote("T-CLI") + b"~HS")
            received = b""
            while received.count(b"\x03") < 3:
                received += connection.recv(1024)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
    assert process.returncode == 0
    assert (tmp_path / "label-000001.zpl").read_bytes() == tote("T-CLI")
