"""Labels and documents for warehouse printers: ZPL for Zebra thermal printers, PDF for the rest.

    from printers import PrinterSetup, TcpTransport, render_zpl, send_job

    zpl = render_zpl("tote", {"tote_code": "T-000123"}, PrinterSetup.for_dpi(300))
    send_job(TcpTransport("10.0.4.21"), zpl)

This package imports nothing from `backend`.
"""

from printers.code128 import FNC1, Code128Symbol, encode_code128
from printers.datamatrix import DataMatrixSymbol, encode_datamatrix
from printers.documents import (
    LABEL_SHEETS,
    PackingLine,
    PackingSlip,
    PickStop,
    PickTour,
    WaveOrder,
    WaveSummary,
    location_sheet_pdf,
    packing_slip_pdf,
    pick_list_pdf,
    pick_lists_pdf,
    wave_summary_pdf,
)
from printers.errors import (
    LabelDataError,
    PrinterError,
    PrinterFault,
    PrinterOffline,
    PrinterProtocolError,
    PrinterTimeout,
    UnknownTemplate,
)
from printers.gs1 import gs1_check_digit
from printers.labels import (
    Address,
    EnrollmentLabel,
    LabelData,
    LocationLabel,
    LpnLabel,
    ProductLabel,
    ShippingLabel,
    ToteLabel,
    label_from_mapping,
)
from printers.render import render_pdf, render_zpl
from printers.setup import PrinterSetup
from printers.status import PrinterStatus, build_host_status, parse_host_status
from printers.templates import TEMPLATES, template_for
from printers.transport import FileTransport, MemoryTransport, TcpTransport, Transport, send_job
from printers.virtual import VirtualPrinter, run_virtual_printer, send_control
from printers.zpl import count_commands, decode_field_hex, escape_field, field_texts

__all__ = [
    "FNC1",
    "LABEL_SHEETS",
    "TEMPLATES",
    "Address",
    "Code128Symbol",
    "DataMatrixSymbol",
    "EnrollmentLabel",
    "FileTransport",
    "LabelData",
    "LabelDataError",
    "LocationLabel",
    "LpnLabel",
    "MemoryTransport",
    "PackingLine",
    "PackingSlip",
    "PickStop",
    "PickTour",
    "PrinterError",
    "PrinterFault",
    "PrinterOffline",
    "PrinterProtocolError",
    "PrinterSetup",
    "PrinterStatus",
    "PrinterTimeout",
    "ProductLabel",
    "ShippingLabel",
    "TcpTransport",
    "ToteLabel",
    "Transport",
    "UnknownTemplate",
    "VirtualPrinter",
    "WaveOrder",
    "WaveSummary",
    "build_host_status",
    "count_commands",
    "decode_field_hex",
    "encode_code128",
    "encode_datamatrix",
    "escape_field",
    "field_texts",
    "gs1_check_digit",
    "label_from_mapping",
    "location_sheet_pdf",
    "packing_slip_pdf",
    "parse_host_status",
    "pick_list_pdf",
    "pick_lists_pdf",
    "render_pdf",
    "render_zpl",
    "run_virtual_printer",
    "send_control",
    "send_job",
    "template_for",
    "wave_summary_pdf",
]
