"""scraper: collect a script-rendered video site's category into MongoDB.

The command line (``scrape``) is the main interface; these are the names tests and
embedding code use.
"""

from __future__ import annotations

from .config import Settings, parse_resolve
from .errors import ScraperError

__all__ = ["ScraperError", "Settings", "parse_resolve"]
__version__ = "0.1.0"
