"""Images for WeChat: read from the release's files or an allow-listed host, made JPEG/PNG < 1 MB."""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import urlsplit

import requests
from PIL import Image, UnidentifiedImageError

from channels.base import ContentRejected, TransientChannelError

BODY_IMAGE_MAX_BYTES = 1024 * 1024  # uploadimg: strictly under 1 MB
COVER_MAX_BYTES = 10 * 1024 * 1024


def load(source: str, session: requests.Session, timeout_seconds: float) -> bytes:
    """The bytes of a local path or an http(s) URL (already checked against the allow list)."""
    if urlsplit(source).scheme in ("http", "https"):
        try:
            response = session.get(source, timeout=timeout_seconds)
        except requests.RequestException as exc:
            raise TransientChannelError(f"图片下载失败 / image download failed: "
                                        f"{type(exc).__name__}", code="image_fetch") from None
        if response.status_code != 200:
            raise TransientChannelError(f"图片下载失败 / image download failed: HTTP "
                                        f"{response.status_code}", code="image_fetch")
        return response.content
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise ContentRejected(f"图片文件无法读取 / image file unreadable: {Path(source).name}",
                              field="image", limit="a readable file",
                              explanation_zh="图片文件不存在或无法读取",
                              explanation_en=f"the image file cannot be read ({exc.strerror})"
                              ) from None


def to_upload(data: bytes, name: str, max_bytes: int = BODY_IMAGE_MAX_BYTES
              ) -> tuple[str, bytes, str]:
    """``(filename, bytes, content type)`` as JPEG or PNG under ``max_bytes``, converting if needed."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError):
        raise ContentRejected(f"不是可识别的图片 / not a readable image: {name}", field="image",
                              limit="JPEG or PNG") from None
    stem = Path(name).stem or "image"
    if image.format in ("JPEG", "PNG") and len(data) < max_bytes:
        ext = "jpg" if image.format == "JPEG" else "png"
        return f"{stem}.{ext}", data, f"image/{'jpeg' if ext == 'jpg' else 'png'}"
    rgb = image.convert("RGB")
    for scale in (1.0, 0.8, 0.6, 0.45, 0.3, 0.2):
        size = (max(1, int(rgb.width * scale)), max(1, int(rgb.height * scale)))
        frame = rgb if scale == 1.0 else rgb.resize(size)
        for quality in (88, 75, 60):
            out = io.BytesIO()
            frame.save(out, format="JPEG", quality=quality, optimize=True)
            if out.tell() < max_bytes:
                return f"{stem}.jpg", out.getvalue(), "image/jpeg"
    raise ContentRejected(f"图片无法压缩到限值以内 / image cannot be made small enough: {name}",
                          field="image", limit=f"under {max_bytes} bytes")
