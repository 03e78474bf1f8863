"""Devices: enrollment, device tokens, the scanner settings served to them, and their event streams (`stream`)."""
