"""Site profiles: one site's scheme, hosts by role, URL templates and categories.

A profile is ``selectors/<site>/site.toml`` (data only, no Python under ``selectors/``);
it names the selector set its pages use (``selector_files.py`` loads those). Several
profiles may share one selector set (``youku`` and ``youku-replica`` do).

Malformed files raise :class:`SelectorFileError` in one line (``toml_fields``).
"""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import ConfigError
from .convert import absolutize
from .toml_fields import field_error, read_toml, reject_unknown, require

__all__ = [
    "HOST_ROLES",
    "Category",
    "SiteProfile",
    "channel_list",
    "channel_uid",
    "default_selectors_dir",
    "list_sites",
    "load_profile",
]

HOST_ROLES = ("catalogue", "video", "tracker", "static", "ups", "comments", "thumbs", "channel")
_PROFILE_TABLES = {
    "hosts": HOST_ROLES,
    "api": ("ups", "comments", "comment_app", "comment_page_size", "ccode"),
    "urls": ("catalogue_first", "catalogue_page", "video"),
}
# A profile without them cannot follow channels (``--channel`` says so).
_OPTIONAL_URLS = ("channel", "channel_videos")
# A channel's uid in a link or as typed: "UMTIz", "UMTIz==", "//i.host/i/UMTIz==/videos".
_UID = re.compile(r"^(?:(?:https?:)?//[^/]+)?(?:/i/)?([A-Za-z0-9_+-]+)=*(?:/.*)?(?:[?#].*)?$")
_PROFILE_KEYS = {"name", "selectors", "scheme", "paths", "categories", "media_hosts",
                 *_PROFILE_TABLES}
_CATEGORY_KEYS = {"slug", "module", "label"}


# --- where the files are ---------------------------------------------------------------


def default_selectors_dir() -> Path:
    """The repository's ``selectors/`` beside the package, else the packaged copy."""
    repo = Path(__file__).resolve().parents[2] / "selectors"
    if any(repo.glob("*/site.toml")):
        return repo
    packaged = importlib.resources.files("scraper").joinpath("selectors_data")
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    raise ConfigError("no selectors directory found: pass --selectors-dir")


def _root(selectors_dir: Path | None) -> Path:
    if selectors_dir is None:
        return default_selectors_dir()
    if not selectors_dir.is_dir():
        raise ConfigError(f"selectors directory {selectors_dir} does not exist")
    return selectors_dir


def list_sites(selectors_dir: Path | None = None) -> list[str]:
    """Names of the site profiles (directories holding a ``site.toml``), sorted."""
    return sorted(p.parent.name for p in _root(selectors_dir).glob("*/site.toml"))


# --- site profiles ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Category:
    """A catalogue category: the CLI's name for it and the site's slug, module id, label."""

    name: str
    slug: str
    module: int
    label: str


@dataclass(frozen=True, slots=True)
class SiteProfile:
    """One site as the crawl sees it: scheme, hosts by role, URL templates, categories."""

    name: str
    scheme: str
    hosts: Mapping[str, str]
    selector_set: str
    selectors_dir: Path
    categories: Mapping[str, Category]
    ups_path: str
    comments_path: str
    comment_app: str
    comment_page_size: int
    ccode: str
    catalogue_first: str
    catalogue_page: str
    video_path: str
    paths: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # Hosts that serve only media (segment CDNs): the browser never needs them.
    media_hosts: tuple[str, ...] = ()
    channel_path: str | None = None
    channel_videos_path: str | None = None

    def url(self, role: str, path: str = "") -> str:
        """``{scheme}://{host of role}{path}``."""
        if role not in self.hosts:
            raise ConfigError(f"site {self.name} has no host for role {role!r}; "
                              f"roles: {', '.join(self.hosts)}")
        return f"{self.scheme}://{self.hosts[role]}{path}"

    def category(self, name: str) -> Category:
        """The category by CLI name (``today-hot``) or site slug (``jrrm``)."""
        for category in self.categories.values():
            if name in (category.name, category.slug):
                return category
        raise ConfigError(f"unknown category {name!r} for site {self.name}; "
                          f"choose from: {', '.join(self.categories)}")

    def catalogue_url(self, category: str, page: int = 1) -> str:
        """URL of catalogue page ``page`` (1-based) of a category."""
        cat = self.category(category)
        if page < 1:
            raise ConfigError(f"catalogue pages start at 1, not {page}")
        template = self.catalogue_first if page == 1 else self.catalogue_page
        return self.url("catalogue", template.format(slug=cat.slug, mod=cat.module, n=page))

    def video_url(self, vid: str) -> str:
        """URL of a video page; ``vid`` may carry its ``==`` padding or not."""
        return self.url("video", self.video_path.format(vid=vid.rstrip("=")))

    def channel_url(self, uid: str) -> str:
        """URL of a channel's home page (``uid`` as :func:`channel_uid` gives it)."""
        return self.url("channel", self._channel_template("channel").format(uid=uid))

    def channel_videos_url(self, uid: str, page: int = 1) -> str:
        """URL of page ``page`` (1-based) of a channel's video list."""
        template = self._channel_template("channel_videos")
        return self.url("channel", template.format(uid=uid, n=page))

    def _channel_template(self, key: str) -> str:
        template = self.channel_path if key == "channel" else self.channel_videos_path
        if template is None:
            raise ConfigError(f"site {self.name} has no urls.{key} template: it cannot "
                              "follow channels")
        return template

    @property
    def ups_url(self) -> str:
        return self.url("ups", self.ups_path)

    @property
    def comments_url(self) -> str:
        return self.url("comments", self.comments_path)

    @property
    def pages_dir(self) -> Path:
        """Where this profile's selector files live: ``<selectors>/<set>/pages``."""
        return self.selectors_dir / self.selector_set / "pages"

    def absolute(self, url: str) -> str:
        """A protocol-relative link (``//host/p``) with this site's scheme."""
        return absolutize(url, self.scheme)


def load_profile(site: str, *, selectors_dir: Path | None = None) -> SiteProfile:
    """Read and validate ``<selectors_dir>/<site>/site.toml``."""
    root = _root(selectors_dir)
    path = root / site / "site.toml"
    if not path.is_file():
        known = ", ".join(list_sites(root)) or "none"
        raise ConfigError(f"unknown site {site!r}; known sites: {known} (in {root})")
    doc = read_toml(path)
    reject_unknown(path, doc, _PROFILE_KEYS)
    tables = {}
    for name, keys in _PROFILE_TABLES.items():
        table = require(path, doc, name, dict)
        reject_unknown(path, table, {*keys, *(_OPTIONAL_URLS if name == "urls" else ())},
                       prefix=f"{name}.")
        tables[name] = {k: require(path, table, k, int if k == "comment_page_size" else str,
                                prefix=f"{name}.") for k in keys}
    scheme = require(path, doc, "scheme", str)
    if scheme not in ("http", "https"):
        raise field_error(path, "key 'scheme'", f"expected 'http' or 'https', got {scheme!r}")
    if require(path, doc, "name", str) != site:
        raise field_error(path, "key 'name'",
                          f"{doc['name']!r} differs from the directory {site!r}")
    selector_set = require(path, doc, "selectors", str)
    if not (root / selector_set / "pages").is_dir():
        raise field_error(path, "key 'selectors'",
                          f"no selector set at {root / selector_set}/pages")
    _check_templates(path, tables["urls"])
    channel_urls = _channel_urls(path, doc["urls"])
    paths = require(path, doc, "paths", dict) if "paths" in doc else {}
    media = require(path, doc, "media_hosts", list) if "media_hosts" in doc else []
    if not all(isinstance(h, str) and h for h in media):
        raise field_error(path, "key 'media_hosts'", "expected a list of host patterns")
    api, urls = tables["api"], tables["urls"]
    return SiteProfile(
        name=site, scheme=scheme, hosts=MappingProxyType(tables["hosts"]),
        selector_set=selector_set, selectors_dir=root,
        categories=MappingProxyType(_categories(path, require(path, doc, "categories", dict))),
        ups_path=api["ups"], comments_path=api["comments"], comment_app=api["comment_app"],
        comment_page_size=api["comment_page_size"], ccode=api["ccode"],
        catalogue_first=urls["catalogue_first"], catalogue_page=urls["catalogue_page"],
        video_path=urls["video"], paths=MappingProxyType({k: str(v) for k, v in paths.items()}),
        media_hosts=tuple(media), channel_path=channel_urls.get("channel"),
        channel_videos_path=channel_urls.get("channel_videos"),
    )


def _check_templates(path: Path, urls: Mapping[str, str]) -> None:
    needs = {"catalogue_first": ("{slug}",), "catalogue_page": ("{slug}", "{mod}", "{n}"),
             "video": ("{vid}",)}
    for key, placeholders in needs.items():
        for placeholder in placeholders:
            if placeholder not in urls[key]:
                raise field_error(path, f"key 'urls.{key}'", f"template lacks {placeholder}")


def _channel_urls(path: Path, urls: Mapping[str, Any]) -> dict[str, str]:
    found = {key: require(path, urls, key, str, prefix="urls.")
             for key in _OPTIONAL_URLS if key in urls}
    needs = {"channel": ("{uid}",), "channel_videos": ("{uid}", "{n}")}
    for key, template in found.items():
        for placeholder in needs[key]:
            if placeholder not in template:
                raise field_error(path, f"key 'urls.{key}'", f"template lacks {placeholder}")
    return found


def channel_list(uid: str) -> str:
    """The list name a channel's videos record: ``channel:UMTIz``."""
    return f"channel:{uid}"


def channel_uid(text: str) -> str:
    """A channel's uid from what a user typed: the uid with or without its ``==``, or a
    link to the channel (``http://i.youku.test/i/UMTIz==``, also protocol-relative)."""
    match = _UID.match(text.strip())
    if not match or (text.strip().startswith(("http", "//")) and "/i/" not in text):
        raise ConfigError(f"not a channel uid or channel link: {text!r}")
    return match[1]


def _categories(path: Path, table: Mapping[str, Any]) -> dict[str, Category]:
    if not table:
        raise field_error(path, "key 'categories'", "no category defined")
    categories = {}
    for name, entry in table.items():
        prefix = f"categories.{name}."
        if not isinstance(entry, dict):
            raise field_error(path, f"key 'categories.{name}'", "expected a table")
        reject_unknown(path, entry, _CATEGORY_KEYS, prefix=prefix)
        categories[name] = Category(
            name=name, slug=require(path, entry, "slug", str, prefix=prefix),
            module=require(path, entry, "module", int, prefix=prefix),
            label=require(path, entry, "label", str, prefix=prefix),
        )
    return categories
