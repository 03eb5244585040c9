"""Vega, Vega-Lite and vega-embed for the page (one inline script) and static SVG/PNG, via vl-convert-python.

The JavaScript bundle is made by ``vl_convert.javascript_bundle`` (no network: vl-convert carries the
libraries) and cached under ``$XDG_CACHE_HOME/alloybench`` (default ``~/.cache/alloybench``), keyed by
the vl-convert and Vega-Lite versions: making it takes about 10 s, reading it a millisecond.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alloybench.errors import MissingExtra
from alloybench.report.files import write_atomic
from alloybench.report.figures import VL_VERSION

EXTRA = "report"


def _vlc():
    try:
        import vl_convert
    except ImportError as exc:
        raise MissingExtra("the HTML report's figures", EXTRA, "vl-convert-python") from exc
    return vl_convert


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "alloybench"


def javascript_bundle() -> str:
    """vega + vega-lite + vega-embed as one script that sets window.vegaEmbed (cached on disk)."""
    vlc = _vlc()
    version = getattr(vlc, "__version__", "unknown")
    path = cache_dir() / f"vega-bundle-vlc{version}-vl{VL_VERSION}.js"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        pass
    text = vlc.javascript_bundle(vl_version=VL_VERSION)
    try:
        write_atomic(path, text)
    except OSError:  # a read-only home: rebuild next time
        pass
    return text


def to_svg(spec: dict[str, Any]) -> str:
    return _vlc().vegalite_to_svg(spec, vl_version=VL_VERSION, allowed_base_urls=[])


def to_png(svg: str, scale: float = 2.0) -> bytes:
    """PNG of an SVG made by :func:`to_svg` (rasterising it costs a fraction of re-running Vega)."""
    return _vlc().svg_to_png(svg, scale=scale)


__all__ = ["cache_dir", "javascript_bundle", "to_png", "to_svg"]
