"""HTML pages from jinja2 templates, autoescaped: text from the site is shown, never run.

Pages served by the dashboard load ``plotly.min.js`` and ``app.js`` from the app (its
Content-Security-Policy admits no other script); a file written by ``scrape plot`` or
``scrape report`` carries them inline, with a policy that admits exactly those scripts
by hash, so it opens anywhere without a network.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

__all__ = ["CSP", "STATIC", "inline_policy", "plotly_js", "render", "static_text"]

STATIC = Path(__file__).parent / "static"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")


@cache
def plotly_js() -> Path:
    """The plotly.js bundle inside the installed ``plotly`` package."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the plotly package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"


@cache
def static_text(name: str) -> str:
    path = plotly_js() if name == "plotly.min.js" else STATIC / name
    return path.read_text(encoding="utf-8")


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=_num, when=_when, rate=_rate)
    env.globals["inline_script"] = _inline_script
    return env


def render(template: str, **context: Any) -> str:
    return _env().get_template(template).render(**context)


def inline_policy(*scripts: str) -> str:
    """A Content-Security-Policy admitting exactly these inline scripts."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
        for s in scripts)
    return (f"default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; "
            "img-src data: blob:; base-uri 'none'")


def _inline_script(name: str) -> Markup:
    """A static script's text, safe between ``<script>`` tags."""
    return Markup(script_body(name))


def script_body(name: str) -> str:
    return static_text(name).replace("</", "<\\/")


def _num(value: Any) -> str:
    return "–" if value is None else f"{value:,}"


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f}"


def _when(value: datetime | None) -> str:
    return "–" if value is None else f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
