"""What a user may type to name one video (``scrape run --video``): its vid with or
without the ``==`` padding, its numeric id, or its page URL."""

from __future__ import annotations

import base64
import re
from urllib.parse import urlsplit

from ..errors import ConfigError
from .profile import SiteProfile

__all__ = ["vid_of"]

_VID = re.compile(r"[A-Za-z0-9_+-]+")


def vid_of(ref: str, profile: SiteProfile) -> str:
    """The vid (without padding) that ``ref`` names; ``ConfigError`` if it names none."""
    text = ref.strip()
    if text.isdecimal():
        return _encoded(int(text))
    if "/" in text:
        return _from_url(text, profile) or _not_a_video(ref, profile)
    vid = text.rstrip("=")
    return vid if _VID.fullmatch(vid) else _not_a_video(ref, profile)


def _encoded(numeric_id: int) -> str:
    """The site's vid of a numeric id: ``"X" + base64(str(id * 4))``, unpadded."""
    return "X" + base64.b64encode(str(numeric_id * 4).encode()).decode().rstrip("=")


def _from_url(url: str, profile: SiteProfile) -> str | None:
    """The vid in a video page's path (``/v_show/id_{vid}``, any suffix after it)."""
    prefix = profile.video_path.split("{vid}", 1)[0]
    path = urlsplit(url if "//" in url else f"//{url}").path
    if not path.startswith(prefix):
        return None
    found = _VID.match(path[len(prefix):])
    return found.group() if found else None


def _not_a_video(ref: str, profile: SiteProfile) -> str:
    raise ConfigError(
        f"--video {ref!r} names no video: give its vid, its numeric id or its page URL "
        f"({profile.video_url('XMzU5NzQ5OTc2')})")
