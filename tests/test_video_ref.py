"""``run --video``: every way a user names a video gives its vid."""

from __future__ import annotations

import re

import pytest

from scraper.api.tokens import numeric_id
from scraper.errors import ConfigError
from scraper.site.profile import load_profile
from scraper.site.video_ref import vid_of

PROFILE = load_profile("youku-replica", selectors_dir=None)


@pytest.mark.parametrize("ref", [
    "XMzU5NzQ5OTc2", "XMzU5NzQ5OTc2==", "89937494",
    "http://v.youku.test/v_show/id_XMzU5NzQ5OTc2==.html",
    "//v.youku.test/v_show/id_XMzU5NzQ5OTc2.html?spm=a2h0k",
    "v.youku.test/v_show/id_XMzU5NzQ5OTc2",
])
def test_each_form_names_the_same_vid(ref: str) -> None:
    assert vid_of(ref, PROFILE) == "XMzU5NzQ5OTc2"
    assert numeric_id("XMzU5NzQ5OTc2") == 89937494


@pytest.mark.parametrize("ref", ["", "two words", "http://v.youku.test/u/abc", "X?y"])
def test_anything_else_is_bad_input(ref: str) -> None:
    with pytest.raises(ConfigError, match="^" + re.escape(f"--video {ref!r} names no video")):
        vid_of(ref, PROFILE)
