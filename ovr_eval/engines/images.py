"""Open images referenced by samples (paths, PIL images, encoded bytes) once, as RGB."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any


class UnusableImage(ValueError):
    """An image that cannot be decoded (corrupt, truncated, not an image)."""


def load_image(image: Any):
    """A PIL RGB image from a path, encoded bytes or an already open image; UnusableImage
    (naming the image and the reason) when it cannot be decoded."""
    try:
        return _decode(image)
    except TypeError:
        raise
    except Exception as exc:  # PIL raises OSError, ValueError, SyntaxError, DecompressionBomb...
        where = image if isinstance(image, (str, Path)) or hasattr(image, "open") else "image"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UnusableImage(f"{where}: {reason}") from None


def _decode(image: Any):
    from PIL import Image

    if isinstance(image, (bytes, bytearray)):
        image = Image.open(io.BytesIO(image))
    if isinstance(image, (str, Path)):
        with Image.open(image) as handle:
            return handle.convert("RGB")
    if isinstance(image, Image.Image):
        return image if image.mode == "RGB" else image.convert("RGB")
    if hasattr(image, "open"):  # a LazyImage from a datasets table
        decoded = image.open()
        return decoded if decoded.mode == "RGB" else decoded.convert("RGB")
    raise TypeError(f"not an image: {type(image).__name__}")


def png_bytes(image: Any) -> bytes:
    """Any image :func:`load_image` accepts, encoded as RGB PNG."""
    buffer = io.BytesIO()
    load_image(image).save(buffer, format="PNG")
    return buffer.getvalue()
