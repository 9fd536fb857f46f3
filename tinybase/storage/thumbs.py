"""Thumbnails of images, made with Pillow: ``WxH`` and a fit mode.

Fit modes (PocketBase's, by name):

- ``fit`` (the default): scaled to fit inside ``WxH``, proportions kept;
- ``crop``: scaled to cover ``WxH`` and cropped to it from the centre;
- ``top``: as ``crop``, keeping the top;
- ``bottom``: as ``crop``, keeping the bottom.

A side of 0 means "proportional" (``0x100``: 100 pixels high). Thumbnails are PNG for images
of PNG, GIF and BMP images, JPEG of JPEG, WebP of WebP.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, ImageOps, UnidentifiedImageError

from tinybase.errors import BadRequestError, NotFoundError
from tinybase.storage.base import ObjectStore

__all__ = [
    "MAX_SIDE",
    "THUMBNAIL_TYPES",
    "THUMBS_PREFIX",
    "ThumbSpec",
    "cached_thumbnail",
    "make_thumbnail",
    "thumbnail_key",
    "thumbnail_type",
]

THUMBS_PREFIX = "_thumbs"
MAX_SIDE = 2048
#: The image types thumbnails are made of (anything else is a 400).
THUMBNAIL_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"})
_SPEC = re.compile(r"^(\d{1,4})x(\d{1,4})(?:_?(fit|crop|top|bottom))?$")
_MAX_PIXELS = 50_000_000  # larger sources are refused (a decompression bomb)
_RESIZABLE_MODES = frozenset({"1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr"})
_MAX_SOURCE_BYTES = 50 * 1024 * 1024  # read whole into memory to decode: bounded


@dataclass(frozen=True)
class ThumbSpec:
    """A thumbnail size and fit, parsed from ``?thumb=`` (``100x100``, ``200x0``,
    ``100x100_crop``)."""

    width: int
    height: int
    mode: str = "fit"

    @classmethod
    def parse(cls, text: str) -> ThumbSpec:
        """Parse ``WxH[_mode]``.

        Raises:
            BadRequestError: not of that form, both sides 0, or a side past ``MAX_SIDE``.
        """
        match = _SPEC.match(text)
        if match is None:
            raise BadRequestError("thumb: expected WxH with an optional _fit|_crop|_top|_bottom")
        width, height = int(match[1]), int(match[2])
        if not (width or height) or width > MAX_SIDE or height > MAX_SIDE:
            raise BadRequestError(f"thumb: each side 0..{MAX_SIDE}, not both 0")
        return cls(width, height, match[3] or "fit")

    @property
    def name(self) -> str:
        """The spec as a key segment (``100x100_crop``)."""
        return f"{self.width}x{self.height}_{self.mode}"


def make_thumbnail(source: BinaryIO, mime: str, spec: ThumbSpec) -> bytes:
    """The thumbnail of the image in ``source`` (of sniffed type ``mime``), encoded as
    :func:`thumbnail_type` says.

    Raises:
        BadRequestError: ``source`` is not an image Pillow can read.
    """
    try:
        with Image.open(source) as image:
            if image.width * image.height > _MAX_PIXELS:
                raise BadRequestError("thumb: the image is too large")
            image.load()
            thumbnail = _resized(_resizable(ImageOps.exif_transpose(image)), spec)
            return _encoded(thumbnail, mime)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise BadRequestError("thumb: the file is not an image") from exc
    except ValueError as exc:  # a mode or layout Pillow cannot resize or encode
        raise BadRequestError("thumb: this image cannot be made into a thumbnail") from exc


def _resizable(image: Image.Image) -> Image.Image:
    """``image`` in a mode Pillow resizes and every thumbnail format encodes: 16- and
    32-bit images (``I;16``, ``I``, ``F``: valid PNG and TIFF-like data) are not."""
    if image.mode in _RESIZABLE_MODES:
        return image
    return image.convert("RGBA" if "A" in image.getbands() else "RGB")


def _resized(image: Image.Image, spec: ThumbSpec) -> Image.Image:
    width = spec.width or max(1, round(image.width * spec.height / image.height))
    height = spec.height or max(1, round(image.height * spec.width / image.width))
    if spec.mode == "fit" or not (spec.width and spec.height):
        copy = image.copy()
        copy.thumbnail((width, height))
        return copy
    centering = {"crop": (0.5, 0.5), "top": (0.5, 0.0), "bottom": (0.5, 1.0)}[spec.mode]
    return ImageOps.fit(image, (width, height), centering=centering)


def thumbnail_type(mime: str) -> str:
    """The type of the thumbnails of images of type ``mime``: JPEG of JPEG, WebP of WebP,
    PNG of the rest (they may be transparent)."""
    return mime if mime in ("image/jpeg", "image/webp") else "image/png"


def _encoded(image: Image.Image, mime: str) -> bytes:
    output = io.BytesIO()
    kind = thumbnail_type(mime)
    if kind == "image/jpeg":
        image.convert("RGB").save(output, "JPEG", quality=85)
    elif kind == "image/webp":
        image.save(output, "WEBP")
    else:
        image.save(output, "PNG", optimize=True)
    return output.getvalue()


def thumbnail_key(key: str, spec: ThumbSpec) -> str:
    """Where the thumbnail ``spec`` of the object ``key`` is cached (deleted with it)."""
    return f"{THUMBS_PREFIX}/{key}/{spec.name}"


def cached_thumbnail(store: ObjectStore, key: str, mime: str, spec: ThumbSpec) -> str:
    """The key of the thumbnail ``spec`` of object ``key`` (of sniffed type ``mime``), made
    and stored on first use. Objects never change, so a cached thumbnail never goes stale.

    Raises:
        BadRequestError: ``mime`` is not an image type thumbnails are made of, or the
            image is too large (over 50 MiB or 50 megapixels).
        NotFoundError: the object is gone.
    """
    if mime not in THUMBNAIL_TYPES:
        raise BadRequestError("thumb: thumbnails are made of images only")
    target = thumbnail_key(key, spec)
    try:
        store.stat(target)
        return target
    except NotFoundError:
        pass
    if store.stat(key).size > _MAX_SOURCE_BYTES:
        raise BadRequestError("thumb: the image is too large")
    source = io.BytesIO(b"".join(store.read(key)))  # images are bounded by the upload limit
    store.put(target, io.BytesIO(make_thumbnail(source, mime, spec)))
    return target
