"""A picture checked before anything decodes it in full: its real type, its dimensions, its integrity.

A few kilobytes of PNG can declare 100,000 × 100,000 pixels (tens of gigabytes decoded), so
the header is read first and the size limits apply before any pixel is decoded. The core
checks each picture at intake (an urgent post's); a channel that decodes pictures (WeChat)
checks again, so a bad one that reaches it fails permanently with an explanation.
"""

from __future__ import annotations

import io
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image, ImageFile

TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif"}  # taken at intake
# what a channel that converts pictures reads (a release's chart may be WebP); never Pillow's
# every plugin
CONVERTIBLE = {**TYPES, "WEBP": "image/webp", "BMP": "image/bmp", "TIFF": "image/tiff"}
MAX_PIXELS = 40_000_000  # 40 megapixels: a 24-megapixel camera photo passes, a bomb does not
MAX_SIDE_PIXELS = 20_000
MAX_DECODED_BYTES = 160 * 1024 * 1024  # width × height × bytes per pixel, once decoded
# what Pillow raises on broken or hostile files (SyntaxError: a malformed PNG chunk)
PILLOW_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError,
                 struct.error, zlib.error, Image.DecompressionBombError)
_BYTES_PER_BAND = {"I;16": 2, "I;16B": 2, "I;16L": 2, "I": 4, "F": 4}
_STRICT = threading.Lock()


class PictureProblem(ValueError):
    """The picture cannot be used: what is wrong in both languages, and the limit it breaks."""

    def __init__(self, zh: str, en: str, limit: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh, self.en, self.limit = zh, en, limit


@dataclass(frozen=True)
class Checked:
    """A picture that passed: its type (``image/png`` …), its size in pixels."""

    content_type: str
    width: int
    height: int


def check(data: bytes, declared: str | None = None, *,
          types: dict[str, str] | None = None) -> Checked:
    """Check ``data`` as a JPEG, PNG or GIF (or one of ``types``, Pillow format -> content
    type), ``declared``: the content type it must be; PictureProblem says what is wrong.

    Never decodes more than the limits allow: the header gives the size, ``verify()`` checks
    a PNG's chunks, a JPEG is decoded at 1/8 scale (all of its data, 1/64 of the memory) to
    find truncation, other types' first frame is decoded within the limits."""
    with _refusing_truncated():
        return _check(data, declared, TYPES if types is None else types)


@contextmanager
def _refusing_truncated() -> Iterator[None]:
    """Pillow reads a cut-short file without complaint while ``ImageFile.LOAD_TRUNCATED_IMAGES``
    is on, and WeasyPrint (the gazette's PDF) turns it on for the whole process when imported:
    the check turns it off while it reads. A PDF rendered in that instant in another thread
    refuses a truncated picture rather than padding it, which is the safer way to be wrong."""
    with _STRICT:
        before = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = before


def _check(data: bytes, declared: str | None, types: dict[str, str]) -> Checked:
    try:
        image = Image.open(io.BytesIO(data), formats=tuple(types))
    except Image.DecompressionBombError:
        raise _too_many(None) from None
    except PILLOW_ERRORS:
        names = "、".join(types)
        raise PictureProblem(f"不是可识别的图片（{names}）", f"not a readable picture "
                             f"({', '.join(types)})", ", ".join(types)) from None
    with image:
        content_type = types[str(image.format)]
        if declared is not None and declared != content_type:
            raise PictureProblem(f"图片实际是 {content_type}，不是声明的 {declared}",
                                 f"the picture is really {content_type}, not the declared "
                                 f"{declared}", f"the declared type ({declared})")
        width, height = image.size
        if width < 1 or height < 1:
            raise PictureProblem("图片没有像素", "the picture has no pixels", "at least 1×1")
        if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE_PIXELS:
            raise _too_many((width, height))
        decoded = width * height * len(image.getbands()) * _BYTES_PER_BAND.get(image.mode, 1)
        if decoded > MAX_DECODED_BYTES:
            mib = MAX_DECODED_BYTES // 2**20
            raise PictureProblem(f"图片解码后约 {decoded // 2**20} MiB，超过 {mib} MiB",
                                 f"the picture decodes to about {decoded // 2**20} MiB, over "
                                 f"{mib} MiB", f"{mib} MiB decoded")
        _intact(image)
    return Checked(content_type, width, height)


def _intact(image: Image.Image) -> None:
    """PictureProblem unless the file is whole: PNG chunks and checksums (``verify()``), a
    JPEG's or GIF's first frame decoded (a JPEG at reduced scale)."""
    try:
        if image.format == "PNG":
            image.verify()
            return
        if image.format == "JPEG":
            image.draft(None, (max(1, image.width // 8), max(1, image.height // 8)))
        image.load()
    except Image.DecompressionBombError:
        raise _too_many(image.size) from None
    except PILLOW_ERRORS:
        raise PictureProblem("图片文件已损坏或不完整", "the picture file is damaged or cut short",
                             "a whole, readable file") from None


def _too_many(size: tuple[int, int] | None) -> PictureProblem:
    megapixels = MAX_PIXELS // 1_000_000
    zh = f"图片尺寸 {size[0]}×{size[1]} 像素过大" if size else "图片像素过多"
    en = f"the picture is {size[0]}×{size[1]} pixels" if size else "the picture has too many pixels"
    return PictureProblem(
        f"{zh}：最多 {megapixels} 百万像素、每边 {MAX_SIDE_PIXELS} 像素，请缩小后再上传",
        f"{en}: at most {megapixels} megapixels and {MAX_SIDE_PIXELS} pixels a side; make it "
        "smaller", f"{megapixels} megapixels, {MAX_SIDE_PIXELS} px a side")
