"""Selector repair: fingerprints from good runs, relocation, refresh-selectors."""
