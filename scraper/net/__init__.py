"""Our HTTP: one aiohttp session with --resolve, and resumable downloads."""
