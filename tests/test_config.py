"""Settings built at the edge: --resolve rules, Chromium discovery, refused combinations."""

from __future__ import annotations

from pathlib import Path

import pytest

from scraper import config
from scraper.config import ResolveRule, Settings, find_chromium, parse_resolve
from scraper.errors import ConfigError


def test_resolve_rules_parse_and_match() -> None:
    rules = parse_resolve(["*.test=127.0.0.1:8899", "a.example=10.0.0.1:81,b.example=[::1]:82"])
    assert rules == (
        ResolveRule("*.test", "127.0.0.1", 8899),
        ResolveRule("a.example", "10.0.0.1", 81),
        ResolveRule("b.example", "::1", 82),
    )
    assert rules[0].matches("news.youku.test") and not rules[0].matches("youku.com")
    assert rules[0].chromium_rule() == "MAP *.test 127.0.0.1:8899"


def test_curls_resolve_form_keeps_the_port() -> None:
    rules = parse_resolve(["news.youku.test:8899:127.0.0.1", "v.youku.test:80:[::1]"])
    assert rules == (ResolveRule("news.youku.test", "127.0.0.1", 8899),
                     ResolveRule("v.youku.test", "::1", 80))
    assert rules[0].matches("news.youku.test") and not rules[0].matches("v.youku.test")


@pytest.mark.parametrize("bad", ["*.test", "*.test=127.0.0.1", "*.test=127.0.0.1:0",
                                 "*.test=127.0.0.1:99999", "=1.2.3.4:80", "a b=1.2.3.4:80"])
def test_bad_resolve_rule_is_one_clear_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="bad --resolve rule"):
        parse_resolve([bad])


def test_chromium_lookup(monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory) -> None:
    monkeypatch.setenv("SCRAPER_CHROMIUM", "/bin/sh")
    assert find_chromium() == "/bin/sh"
    with pytest.raises(ConfigError, match="Chromium not found"):
        find_chromium("/nonexistent/chromium")


def test_headless_runs_prefer_the_headless_shell(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shell, full = tmp_path / "chromium-headless-shell", tmp_path / "chromium"
    monkeypatch.delenv("SCRAPER_CHROMIUM", raising=False)
    monkeypatch.setattr(config, "HEADLESS_SHELL", str(shell))
    monkeypatch.setattr(config, "DEBIAN_CHROMIUM", str(full))
    assert find_chromium() is None  # neither installed: Playwright's own
    full.touch()
    assert find_chromium() == str(full)
    shell.touch()
    assert find_chromium() == str(shell)
    assert find_chromium(headless=False) == str(full)  # a headed run needs the full browser


def test_headed_without_display_says_how(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(ConfigError, match="xvfb-run"):
        Settings(headed=True).checked()
    with pytest.raises(ConfigError, match="--slow-mo"):
        Settings(slow_mo_ms=50).checked()


def test_a_chromium_playwright_downloaded_is_found_newest_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scraper.config import _downloaded_chromium

    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    assert _downloaded_chromium(headless=True) is None
    for name in ("chromium-999/chrome-linux/chrome", "chromium-1255/chrome-linux64/chrome",
                 "chromium_headless_shell-1255/chrome-linux64/headless_shell"):
        (tmp_path / name).parent.mkdir(parents=True)
        (tmp_path / name).write_text("")
    assert _downloaded_chromium(headless=False) == str(
        tmp_path / "chromium-1255/chrome-linux64/chrome")
    assert _downloaded_chromium(headless=True) == str(
        tmp_path / "chromium_headless_shell-1255/chrome-linux64/headless_shell")
