"""Devices: enrollment, device tokens, and the scanner settings served to them."""
