"""What the page embeds so that it loads nothing: KaTeX (its CSS with fonts as data URLs, its
JS), images as downscaled data URLs, inline code that cannot close its element, the sample
data as a ``<script type="application/json">`` blob, and the CSP hashes of the page's scripts."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
from pathlib import Path
from typing import Any

from ovr_eval.report.model import KATEX_CACHE, MAX_IMAGE_PX

# ---------------------------------------------------------------- KaTeX and inline code


def find_katex() -> Path | None:
    """KaTeX's ``dist`` folder: under ``$OVR_KATEX_DIR`` or ``~/.cache/ovr-eval/katex``."""
    env = os.environ.get("OVR_KATEX_DIR")
    root = Path(env).expanduser() if env else KATEX_CACHE
    for dist in (root / "dist", root):
        if (dist / "katex.min.js").is_file() and (dist / "katex.min.css").is_file():
            return dist
    return None


def inline_code(code: str, tag: str) -> str:
    """Code safe inside ``<tag>``: no ``</tag`` that would end the element early."""
    return re.sub(rf"</({tag})", r"<\\/\1", code, flags=re.IGNORECASE)


def katex_assets(dist: Path) -> tuple[str, str]:
    """KaTeX's CSS with its woff2 fonts as data URLs (other font formats dropped), and JS."""

    def font(match: re.Match[str]) -> str:
        data = base64.b64encode((dist / "fonts" / match.group(1)).read_bytes()).decode()
        return f'src:url(data:font/woff2;base64,{data}) format("woff2")'

    css = re.sub(r"src:\s*url\(['\"]?fonts/([\w.-]+\.woff2)['\"]?\)[^;}]*", font,
                 (dist / "katex.min.css").read_text("utf-8"))
    if re.search(r"url\((?!data:)", css):
        raise OSError(f"{dist / 'katex.min.css'} loads files that could not be inlined")
    js = (dist / "katex.min.js").read_text("utf-8")
    return inline_code(css, "style"), inline_code(js, "script")


def load_katex() -> tuple[tuple[str, str] | None, str]:
    """KaTeX's (CSS, JS) when cached, and a sentence for the page either way."""
    dist = find_katex()
    where = os.environ.get("OVR_KATEX_DIR") or str(KATEX_CACHE)
    if dist is None:
        return None, (f"KaTeX was not available when this report was made (none in {where}; "
                      "run scripts/setup-browser.sh): LaTeX is shown as source text.")
    try:
        assets = katex_assets(dist)
    except (OSError, UnicodeDecodeError) as error:
        return None, f"KaTeX in {dist} could not be inlined ({error}): LaTeX is shown as source."
    return assets, "LaTeX rendered offline with KaTeX (inlined)."


def script_json(data: Any) -> str:
    """JSON for a ``<script type="application/json">``: no ``<``, ``>`` or ``&`` left raw."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def csp_hash(code: str) -> str:
    """The CSP source that lets exactly this inline script run."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(code.encode()).digest()).decode() + "'"


# ---------------------------------------------------------------- images


def image_data_url(path: Path, max_px: int = MAX_IMAGE_PX) -> str | None:
    """The image downscaled to at most ``max_px`` a side, as the smaller of PNG and JPEG."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as opened:
            opened.draft("RGB", (max_px, max_px))
            image = ImageOps.exif_transpose(opened)
            image.thumbnail((max_px, max_px))
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                rgba = image.convert("RGBA")
                image = Image.new("RGB", rgba.size, "white")
                image.paste(rgba, mask=rgba.getchannel("A"))
            else:
                image = image.convert("RGB")
            encoded = {}
            for fmt, options in (("PNG", {"optimize": True}), ("JPEG", {"quality": 85})):
                buffer = io.BytesIO()
                image.save(buffer, fmt, **options)
                encoded[fmt] = buffer.getvalue()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    fmt = min(encoded, key=lambda f: len(encoded[f]))
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(encoded[fmt]).decode()}"


class ImageStore:
    """Images embedded once each, by key; paths relative to the cwd or to the run folder."""

    def __init__(self) -> None:
        self.urls: dict[str, str] = {}
        self._keys: dict[Path, str | None] = {}

    def add(self, ref: str, run_path: Path) -> str | None:
        try:
            path = Path(ref).expanduser()
            path = (path if path.is_absolute() or path.is_file() else run_path / path).resolve()
        except (OSError, ValueError, RuntimeError):
            return None
        if path not in self._keys:
            url = image_data_url(path) if path.is_file() else None
            key = f"img{len(self.urls)}" if url else None
            if key and url:
                self.urls[key] = url
            self._keys[path] = key
        return self._keys[path]
