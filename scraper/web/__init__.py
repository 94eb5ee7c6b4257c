"""The dashboard, ``scrape plot`` and ``scrape report``: read-only views over a Store."""
