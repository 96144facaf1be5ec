"""Tests of one feature; a package, so its conftest.py does not clash with the other folders' (pytest prepend mode)."""
