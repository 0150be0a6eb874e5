"""Readers for the exported files `tokensentry import` accepts (CONTRACT §4).

Formats are recognised by content, never by file name: `sniff` looks at the first bytes.
"""
