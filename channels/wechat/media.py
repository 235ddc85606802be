"""Images for WeChat: read from the release's files or an allow-listed host, made JPEG/PNG < 1 MB."""

from __future__ import annotations

import io
from collections.abc import Collection
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests
from PIL import Image

from channels import picture
from channels.base import ContentRejected, TransientChannelError

BODY_IMAGE_MAX_BYTES = 1024 * 1024  # uploadimg: strictly under 1 MB
COVER_MAX_BYTES = 10 * 1024 * 1024
FETCH_MAX_BYTES = 20 * 1024 * 1024  # what is downloaded from an image host, before conversion
MAX_REDIRECTS = 5


def load(source: str, session: requests.Session, timeout_seconds: float,
         hosts: Collection[str] = ()) -> bytes:
    """The bytes of a local path or of an http(s) URL on one of ``hosts`` (the ``image_hosts``
    allow list); every redirect is followed by hand and must stay on those hosts too."""
    if urlsplit(source).scheme in ("http", "https"):
        return _fetch(source, session, timeout_seconds, hosts)
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise ContentRejected(f"图片文件无法读取 / image file unreadable: {Path(source).name}",
                              field="image", limit="a readable file",
                              explanation_zh="图片文件不存在或无法读取",
                              explanation_en=f"the image file cannot be read ({exc.strerror})"
                              ) from None


def _fetch(url: str, session: requests.Session, timeout_seconds: float,
           hosts: Collection[str]) -> bytes:
    """GET ``url`` without letting requests follow redirects: each hop is checked against
    ``hosts`` before it is asked for, and the body is read up to FETCH_MAX_BYTES."""
    for _hop in range(MAX_REDIRECTS + 1):
        _on_allowed_host(url, hosts)
        try:
            response = session.get(url, timeout=timeout_seconds, allow_redirects=False,
                                   stream=True)
        except requests.RequestException as exc:
            raise TransientChannelError(f"图片下载失败 / image download failed: "
                                        f"{type(exc).__name__}", code="image_fetch") from None
        with response:
            if response.is_redirect:
                url = urljoin(url, response.headers["Location"])
                continue
            if response.status_code != 200:
                raise TransientChannelError(f"图片下载失败 / image download failed: HTTP "
                                            f"{response.status_code}", code="image_fetch")
            return _body(response, urlsplit(url).hostname or "")
    raise ContentRejected(
        f"图片地址重定向超过 {MAX_REDIRECTS} 次 / the image address redirects more than "
        f"{MAX_REDIRECTS} times", field="image", limit=f"at most {MAX_REDIRECTS} redirects",
        explanation_zh="图片地址不断重定向，无法下载",
        explanation_en="the image address keeps redirecting; it cannot be downloaded")


def _on_allowed_host(url: str, hosts: Collection[str]) -> None:
    """ContentRejected (naming the host, never the whole address) unless ``url`` is http(s)
    on one of ``hosts``."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.hostname and parts.hostname in hosts:
        return
    where = parts.hostname or parts.scheme or "?"
    raise ContentRejected(
        f"图片地址不在允许的主机上（{where}）/ the image address leads to {where}, not an "
        "allow-listed host", field="image", limit="image_hosts",
        explanation_zh=f"图片地址（或其重定向）指向未列入 image_hosts 的主机 {where}，未下载",
        explanation_en=f"the image address (or a redirect) leads to {where}, which is not in "
                       "image_hosts; nothing was downloaded from it")


def _body(response: requests.Response, host: str) -> bytes:
    """The response body, refused once it passes FETCH_MAX_BYTES."""
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > FETCH_MAX_BYTES:
                mib = FETCH_MAX_BYTES // 2**20
                raise ContentRejected(
                    f"图片超过 {mib} MiB（{host}）/ the image from {host} is over {mib} MiB",
                    field="image", limit=f"{mib} MiB",
                    explanation_zh=f"从 {host} 下载的图片超过 {mib} MiB",
                    explanation_en=f"the image from {host} is larger than {mib} MiB")
            chunks.append(chunk)
    except requests.RequestException as exc:
        raise TransientChannelError(f"图片下载失败 / image download failed: "
                                    f"{type(exc).__name__}", code="image_fetch") from None
    return b"".join(chunks)


def to_upload(data: bytes, name: str, max_bytes: int = BODY_IMAGE_MAX_BYTES
              ) -> tuple[str, bytes, str]:
    """``(filename, bytes, content type)`` as JPEG or PNG under ``max_bytes``, converting if
    needed; a picture too large to decode or broken is a ContentRejected naming it (never
    decoded past channels/picture.py's limits)."""
    try:
        checked = picture.check(data, types=picture.CONVERTIBLE)
    except picture.PictureProblem as exc:
        raise ContentRejected(f"{exc.zh}：{name} / {exc.en}: {name}", field="image",
                              limit=exc.limit, explanation_zh=f"图片 {name} 无法使用：{exc.zh}",
                              explanation_en=f"the picture {name} cannot be used: {exc.en}"
                              ) from None
    stem = Path(name).stem or "image"
    if checked.content_type in ("image/jpeg", "image/png") and len(data) < max_bytes:
        ext = "jpg" if checked.content_type == "image/jpeg" else "png"
        return f"{stem}.{ext}", data, checked.content_type
    try:
        return _smaller(data, stem, max_bytes)
    except picture.PILLOW_ERRORS:
        raise ContentRejected(f"图片无法解码 / the picture cannot be decoded: {name}",
                              field="image", limit="a whole, readable file",
                              explanation_zh=f"图片 {name} 已损坏，无法转换",
                              explanation_en=f"the picture {name} is damaged and cannot be "
                                             "converted") from None


def _smaller(data: bytes, stem: str, max_bytes: int) -> tuple[str, bytes, str]:
    """The picture as a JPEG under ``max_bytes``, scaled down as far as needed."""
    with Image.open(io.BytesIO(data), formats=tuple(picture.CONVERTIBLE)) as image:
        rgb = image.convert("RGB")
    for scale in (1.0, 0.8, 0.6, 0.45, 0.3, 0.2):
        size = (max(1, int(rgb.width * scale)), max(1, int(rgb.height * scale)))
        frame = rgb if scale == 1.0 else rgb.resize(size)
        for quality in (88, 75, 60):
            out = io.BytesIO()
            frame.save(out, format="JPEG", quality=quality, optimize=True)
            if out.tell() < max_bytes:
                return f"{stem}.jpg", out.getvalue(), "image/jpeg"
    raise ContentRejected(f"图片无法压缩到限值以内 / image cannot be made small enough: {stem}",
                          field="image", limit=f"under {max_bytes} bytes")
