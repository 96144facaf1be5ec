"""Uploaded images (logos for branded QR codes): checked, decoded and re-encoded, never served as uploaded."""
