"""What the banner weighs against vanilla-cookieconsent, and the npm package both the size
and the paint benchmarks take vanilla-cookieconsent from (`npm pack`, never a CDN)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from consent_middleware import ConsentConfig

from .common import REPO, Target

MAX_BANNER_GZIP = 3072
#: The release the issue compares against.
VANILLA_SPEC = "vanilla-cookieconsent@3.1"


class PackError(Exception):
    """npm could not fetch or unpack a package (the message says why)."""


@contextmanager
def npm_package(spec: str) -> Iterator[tuple[Path, str]]:
    """`npm pack spec` into a temporary directory, unpacked: (its folder, its version)."""
    npm = shutil.which("npm")
    if npm is None:
        raise PackError("npm is not installed")
    env = {**os.environ, "npm_config_update_notifier": "false", "npm_config_fund": "false"}
    with tempfile.TemporaryDirectory(prefix="bench-npm-") as tmp:
        try:
            proc = subprocess.run(
                [npm, "pack", spec, "--pack-destination", tmp, "--loglevel=error"],
                cwd=tmp,
                env=env,
                capture_output=True,
                text=True,
                timeout=90,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PackError(f"npm pack failed ({exc})") from exc
        tarballs = sorted(Path(tmp).glob("*.tgz"))
        if proc.returncode != 0 or not tarballs:
            lines = [
                line.removeprefix("npm error").strip()
                for line in (proc.stderr or proc.stdout).splitlines()
                if line.strip() and "complete log" not in line
            ]
            why = "; ".join(lines[:2]) if lines else f"exit status {proc.returncode}"
            raise PackError(f"npm pack failed ({why})")
        folder = Path(tmp) / "unpacked"
        try:
            with tarfile.open(tarballs[0]) as tar:
                tar.extractall(folder, filter="data")
            version = json.loads((folder / "package" / "package.json").read_text()).get(
                "version", "?"
            )
        except (OSError, tarfile.TarError, ValueError) as exc:
            raise PackError(f"unexpected package contents ({exc})") from exc
        yield folder / "package", str(version)


def gzip9(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


@dataclass
class Bundle:
    """A set of files (name -> bytes), or why it could not be measured."""

    name: str
    files: dict[str, bytes] | None
    source: str

    @property
    def gzip_total(self) -> int | None:
        if self.files is None:
            return None
        return sum(gzip9(data) for data in self.files.values())


def our_banner() -> Bundle:
    name = "consent-middleware (banner.js + banner.css)"
    try:
        from consent_middleware.assets import load_assets

        assets = load_assets()
        return Bundle(
            name,
            {key: assets[key].body for key in ("banner.js", "banner.css")},
            "`consent_middleware.assets.load_assets()`",
        )
    except (ImportError, OSError, KeyError) as exc:
        folder = REPO / "static" / "banner"
        files = {}
        for key in ("banner.js", "banner.css"):
            if not (folder / key).is_file():
                return Bundle(name, None, f"not measured: {exc}")
            files[key] = (folder / key).read_bytes()
        return Bundle(name, files, "`static/banner/`")


def vanilla_cookieconsent(use_npm: bool) -> Bundle:
    """vanilla-cookieconsent's dist files, from `npm pack`."""
    name = "vanilla-cookieconsent (cookieconsent.umd.js + cookieconsent.css)"
    if not use_npm:
        return Bundle(name, None, "not measured: --no-npm")
    try:
        with npm_package(VANILLA_SPEC) as (folder, version):
            files = {
                key: (folder / "dist" / key).read_bytes()
                for key in ("cookieconsent.umd.js", "cookieconsent.css")
            }
    except (PackError, OSError) as exc:
        return Bundle(name, None, f"not measured: {exc}")
    return Bundle(name, files, f"`npm pack {VANILLA_SPEC}` (version {version})")


def banner_snippet_size(config: ConsentConfig) -> tuple[int, int] | None:
    """The HTML injected into an undecided visitor's page (raw, gzip -9), for context."""
    try:
        from consent_middleware.banner import BannerRenderer
        from consent_middleware.consent import ConsentCodec

        snippet = BannerRenderer(config).snippet(ConsentCodec(config).undecided, "en")
    except Exception:
        return None
    data = snippet.encode("utf-8")
    return len(data), gzip9(data)


@dataclass
class Sizes:
    ours: Bundle
    theirs: Bundle
    snippet: tuple[int, int] | None


def run(config: ConsentConfig, *, use_npm: bool) -> Sizes:
    return Sizes(our_banner(), vanilla_cookieconsent(use_npm), banner_snippet_size(config))


def targets(sizes: Sizes) -> list[Target]:
    ours = sizes.ours.gzip_total
    return [
        Target(
            "Banner JS + CSS, gzip -9",
            "not measured" if ours is None else f"{ours} B",
            f"≤ {MAX_BANNER_GZIP} B",
            None if ours is None else ours <= MAX_BANNER_GZIP,
        )
    ]


def render(sizes: Sizes) -> list[str]:
    ours, theirs = sizes.ours, sizes.theirs
    lines = [
        "## Banner size",
        "",
        "Each file compressed on its own with gzip level 9, as a server sends them.",
        "",
        "| bundle | file | bytes | gzip -9 bytes |",
        "| --- | --- | ---: | ---: |",
    ]
    for bundle in (ours, theirs):
        if bundle.files is None:
            lines.append(f"| {bundle.name} | — | — | {bundle.source} |")
            continue
        for file, data in bundle.files.items():
            lines.append(f"| {bundle.name} | {file} | {len(data)} | {gzip9(data)} |")
        raw = sum(len(data) for data in bundle.files.values())
        lines.append(f"| {bundle.name} | **total** | {raw} | **{bundle.gzip_total}** |")
    lines += ["", f"Sources: ours from {ours.source}; vanilla-cookieconsent from {theirs.source}."]
    if ours.gzip_total is not None and theirs.gzip_total:
        lines += [
            "",
            f"Ours is {ours.gzip_total / theirs.gzip_total:.0%} of vanilla-cookieconsent's"
            " gzipped size.",
        ]
    if sizes.snippet is not None:
        raw, packed = sizes.snippet
        lines += [
            "",
            "Not counted above: the banner's HTML, which the middleware writes into the pages"
            " of undecided visitors (vanilla-cookieconsent builds its DOM in JavaScript"
            f" instead): {raw} bytes, {packed} gzipped on its own (in a real page it compresses"
            " together with the rest of the HTML).",
        ]
    return [*lines, ""]
