"""The only Playwright importers: Chromium's lifecycle, reused tabs, traced debug pages."""
