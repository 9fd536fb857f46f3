"""The content type of an upload, from its first bytes (never from the client's claim).

Binary formats are recognised by their magic numbers (the ``filetype`` package). Text is
looked at for markup a browser would render or run: HTML, SVG and XML are named as such, so
that downloads serve them as attachments (see :func:`inline_allowed`); other UTF-8 text is
``text/plain``; anything else is ``application/octet-stream``.
"""

from __future__ import annotations

import re

import filetype

__all__ = ["SNIFF_BYTES", "inline_allowed", "sniff"]

SNIFF_BYTES = 8192
"""How much of the start of a file the sniffer looks at."""

_MARKUP = (
    (re.compile(rb"<svg[\s>]", re.IGNORECASE), "image/svg+xml"),
    (
        re.compile(
            rb"<(!doctype\s+html|html|head|body|script|iframe|object|embed|meta|style|a\s|img\s"
            rb"|div|p>|h1|title|form|table|br)",
            re.IGNORECASE,
        ),
        "text/html",
    ),
    (re.compile(rb"^\s*<\?xml", re.IGNORECASE), "application/xml"),
)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")

#: Served ``inline``: types a browser shows but never runs as the page's own code.
_INLINE = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/avif",
        "image/bmp",
        "image/x-icon",
        "image/heic",
        "application/pdf",
        "text/plain",
    }
)


def sniff(head: bytes) -> str:
    """The MIME type of a file whose first bytes are ``head`` (up to :data:`SNIFF_BYTES`)."""
    if not head:
        return "application/octet-stream"
    kind = filetype.guess(head)
    if kind is not None:
        return str(kind.mime)
    text = head[3:] if head.startswith(_BOMS[0]) else head
    for pattern, mime in _MARKUP:
        if pattern.search(text):
            return mime
    if _is_text(text) or head.startswith(_BOMS[1:]):
        return "text/plain"
    return "application/octet-stream"


def inline_allowed(mime: str) -> bool:
    """Whether a file of type ``mime`` may be shown in the browser (``inline``) rather than
    downloaded: images other than SVG, PDF, audio, video and plain text. Everything else
    (HTML, SVG, XML, scripts, unknown bytes) is an ``attachment``, so that an upload never
    runs as a page of TinyBase's origin."""
    return mime in _INLINE or mime.startswith(("audio/", "video/"))


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        return exc.start >= len(data) - 3 and exc.reason == "unexpected end of data"
    return True
