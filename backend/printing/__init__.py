"""Label printing: printers and routing rules, the print-job spool, and the worker that sends to printers.

Other capabilities queue labels with `enqueue_label(session, site_id, label_type, data, …)` inside their own
transaction; `backend.printing.spool` documents how each label is printed once, in order per printer.
"""

from backend.printing.profiles import firmware_profiles
from backend.printing.printer_resolution import Resolution, resolve_printer
from backend.printing.service import (
    cancel_job,
    enqueue_label,
    label_json,
    printer_setup,
    profiles_for,
    render_label,
    replace_routes,
    reprint_job,
    upsert_printer,
)
from backend.printing.spool import PrintSpool, print_spool

__all__ = [
    "PrintSpool",
    "Resolution",
    "cancel_job",
    "enqueue_label",
    "firmware_profiles",
    "label_json",
    "print_spool",
    "printer_setup",
    "profiles_for",
    "render_label",
    "replace_routes",
    "reprint_job",
    "resolve_printer",
    "upsert_printer",
]
