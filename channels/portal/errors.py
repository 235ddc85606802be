"""The portal's error table: content rejections and OS errors mapped to the channel contract."""

from __future__ import annotations

import errno
from pathlib import Path

from channels.base import (
    ChannelError,
    ConfigurationError,
    ContentRejected,
    PermanentChannelError,
    TransientChannelError,
)

DISK_FULL_RETRY_SECONDS = 600.0
BUSY_RETRY_SECONDS = 5.0

_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
_BUSY = frozenset(
    {errno.EAGAIN, errno.EBUSY, errno.EINTR, errno.EIO, errno.EMFILE, errno.ENFILE,
     errno.ESTALE, errno.ETIMEDOUT}
)
_SETUP = frozenset(
    {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR, errno.EEXIST,
     errno.ENAMETOOLONG, errno.ELOOP}
)


def rejected(field: str, limit: str, zh: str, en: str) -> ContentRejected:
    """A ContentRejected whose message reads zh-CN, then English, naming the field and limit."""
    return ContentRejected(
        f"{zh} / {en} (field={field}, limit={limit})",
        field=field,
        limit=limit,
        explanation_zh=f"{zh}（字段 {field}，限制 {limit}）",
        explanation_en=f"{en} (field {field}, limit {limit})",
    )


def payload_invalid(reason: str) -> PermanentChannelError:
    """The stored payload is not one this channel prepared (tampered or from another version)."""
    return PermanentChannelError(
        f"门户载荷无效 / invalid portal payload: {reason}",
        code="payload_invalid",
        remote_message=reason,
        explanation_zh=f"待发送的门户内容格式不正确（{reason}），请重新生成该发布",
        explanation_en=f"the stored portal payload is malformed ({reason}); re-render the release",
    )


def not_found(slug: str) -> PermanentChannelError:
    """The site holds no item with this slug."""
    return PermanentChannelError(
        f"门户网站上没有该信息 / no such item on the portal: {slug}",
        code="not_found",
        remote_message=slug,
        explanation_zh=f"门户网站上找不到标识为 {slug} 的信息，可能从未发布",
        explanation_en=f"the portal has no item with slug {slug}; it may never have been published",
    )


def conflict(code: str, zh: str, en: str, detail: str) -> PermanentChannelError:
    """Publishing would overwrite or duplicate something another delivery owns."""
    return PermanentChannelError(
        f"{zh} / {en}", code=code, remote_message=detail, explanation_zh=zh, explanation_en=en
    )


def os_error(exc: OSError, action_zh: str, action_en: str, path: Path) -> ChannelError:
    """Classify an OS error met on the site: disk full and busy retry, setup needs a person."""
    name = errno.errorcode.get(exc.errno or 0, "OSError")
    detail = f"{name}: {exc.strerror or exc}"
    kw: dict[str, str] = {"code": name, "remote_message": detail}
    if exc.errno in _DISK_FULL:
        return TransientChannelError(
            f"磁盘空间已满，无法{action_zh} / disk full while {action_en}: {path}",
            retry_after=DISK_FULL_RETRY_SECONDS,
            explanation_zh=f"网站所在磁盘空间不足，无法{action_zh}（{path}）。请运维人员清理空间，系统会自动重试。",
            explanation_en=(
                f"the disk holding the site is full, so {action_en} failed ({path}). "
                "Ask operations to free space; the bot retries on its own."
            ),
            **kw,
        )
    if exc.errno in _BUSY:
        return TransientChannelError(
            f"文件系统暂时不可用，无法{action_zh} / file system busy while {action_en}: {path}",
            retry_after=BUSY_RETRY_SECONDS,
            explanation_zh=f"文件系统暂时繁忙或出错，{action_zh}失败（{path}），稍后自动重试。",
            explanation_en=f"the file system was busy or failed while {action_en} ({path}); "
            "the bot retries shortly.",
            **kw,
        )
    if exc.errno in _SETUP or isinstance(exc, PermissionError | NotADirectoryError):
        return ConfigurationError(
            f"没有权限或路径不对，无法{action_zh} / cannot {action_en}: {path} ({detail})",
            explanation_zh=f"网站目录无法写入（{path}，{detail}）。"
            "请检查 site_dir 设置和目录权限。",
            explanation_en=f"the site directory cannot be written ({path}, {detail}). "
            "Check the site_dir setting and the folder's permissions.",
            **kw,
        )
    return PermanentChannelError(
        f"写入网站失败，无法{action_zh} / failed while {action_en}: {path} ({detail})",
        explanation_zh=f"写入网站文件时出错（{path}，{detail}），请联系运维人员。",
        explanation_en=f"writing the site failed ({path}, {detail}); contact operations.",
        **kw,
    )
