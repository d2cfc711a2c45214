"""Bridges to other libraries (transformers today)."""
