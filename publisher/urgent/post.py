"""What staff give for each step of an incident: the first report, an update or correction, a withdrawal."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from channels import picture as pictures
from publisher.character import first_hidden
from publisher.severity import LEVELS, Level, check_level
from publisher.urgent.mark import headline

DRILL_STATUSES = ("Exercise", "Test")
SEVERITY_HELP = (f"事件等级（突发事件应对法）：{'、'.join(LEVELS)} / the incident's grade under the "
                 "Emergency Response Law; its CAP severity follows from urgent.cap_severity")
Category = Literal["Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env",
                   "Transport", "Infra", "CBRNE", "Other"]


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("severity", mode="before", check_fields=False)
    @classmethod
    def _grade(cls, value: object) -> object:
        return check_level(value)

    @field_validator("channels", check_fields=False)
    @classmethod
    def _not_empty(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("give at least one channel, or none for the default")
        twice = sorted({name for name in value or [] if value and value.count(name) > 1})
        if twice:  # one delivery per channel: a second would collide with the first
            raise PydanticCustomError(
                "duplicate_channel", "渠道重复 / a channel is listed more than once: {names}",
                {"names": ", ".join(twice)})
        return value

    @field_validator("title", "event", mode="before", check_fields=False)
    @classmethod
    def _visible(cls, value: object, info: ValidationInfo) -> object:
        """A headline (or the CAP event beside it) with a direction control or an invisible
        character is refused, naming the character's position: it could read differently
        from what was approved."""
        found = first_hidden(value) if isinstance(value, str) else None
        if found is not None:
            raise PydanticCustomError("hidden_character", found.describe(str(info.field_name)),
                                      {"position": found.position, "code": found.code})
        return value


MAX_PICTURE_BYTES = 5 * 1024 * 1024  # Weibo's limit, the tightest of the channels
PICTURE_SUFFIXES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
                    ".gif": "image/gif"}


class UrgentPicture(BaseModel):
    """A picture for the first report (a scene photo, a map), at most 5 MB: JPEG, PNG or GIF,
    checked whole (its real type, its size in pixels, its integrity: channels/picture.py)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=5, max_length=100, pattern=r"^\w[\w\-. ]*\.(jpe?g|png|gif)$",
                      description="文件名 / a plain file name, e.g. scene.jpg")
    content_type: Literal["image/jpeg", "image/png", "image/gif"]
    data_base64: str = Field(repr=False, description="图片内容，Base64 / the bytes, Base64")
    _data: bytes = PrivateAttr(default=b"")

    @model_validator(mode="after")
    def _decode(self) -> UrgentPicture:
        try:
            data = base64.b64decode(self.data_base64, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("data_base64 is not valid Base64") from None
        if not data:
            raise ValueError("the picture is empty")
        if len(data) > MAX_PICTURE_BYTES:
            raise ValueError(f"the picture is {len(data)} bytes; at most {MAX_PICTURE_BYTES} "
                             "(5 MB)")
        try:
            pictures.check(data, self.content_type)
        except pictures.PictureProblem as exc:
            raise ValueError(f"{self.name}: {exc}") from None
        self._data = data
        return self

    @property
    def data(self) -> bytes:
        return self._data

    @classmethod
    def from_file(cls, path: Path) -> UrgentPicture:
        """Read a picture file; ValueError names the file when it cannot be used."""
        content_type = PICTURE_SUFFIXES.get(path.suffix.lower())
        if content_type is None:
            raise ValueError(f"{path}: only .jpg, .jpeg, .png or .gif pictures")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ValueError(f"{path}: {exc.strerror or exc}") from None
        return cls(name=path.name, content_type=content_type,
                   data_base64=base64.b64encode(data).decode("ascii"))


class UrgentPost(_Step):
    """The first report (CAP Alert): facts first, causes carefully."""

    # before the title, which is checked against it
    status: Literal["Actual", "Exercise", "Test"] = Field(
        "Actual", description="Exercise / Test：演练，全部走模拟器 / a drill: every channel's "
                              "emulator")
    title: str = Field(min_length=1, max_length=100, description="标题 / headline")
    facts: str = Field(min_length=1, max_length=5000, description="已核实的事实 / verified facts")
    area: str = Field(min_length=1, max_length=200, description="地点或范围 / where")
    severity: Level = Field(description=SEVERITY_HELP)
    instruction: str | None = Field(None, max_length=1000,
                                    description="公众提示 / what people should do")
    channels: list[str] | None = Field(None, description="默认：全部紧急渠道 / default: every "
                                                         "urgent channel")
    picture: UrgentPicture | None = Field(None, description="配图（可选）/ an optional picture")
    category: Category = Field("Safety", description="CAP 类别 / CAP category (Geo, Met, "
                                                     "Safety, Fire, Health, Transport, Infra, "
                                                     "CBRNE…)")
    event: str | None = Field(None, max_length=100, description="CAP 事件类型，默认用标题 / "
                                                                "CAP event type (default: title)")
    event_at: AwareDatetime | None = Field(
        None, description="事件发生时间（带时区，如 2026-03-14T09:40+08:00）；用于年度报告的首报"
                          "时效 / when the event happened (with its offset), for the annual "
                          "report's time to first report")

    @field_validator("title")
    @classmethod
    def _unmarked(cls, value: str, info: ValidationInfo) -> str:
        status = info.data.get("status")
        return value if status is None else headline(value, drill=status in DRILL_STATUSES)

    @property
    def drill(self) -> bool:
        return self.status in DRILL_STATUSES


class UrgentUpdate(_Step):
    """An update (续报) or, with ``correction``, a correction (更正); CAP Update."""

    facts: str = Field(min_length=1, max_length=5000, description="最新情况 / what is new")
    title: str | None = Field(None, min_length=1, max_length=100,
                              description="默认沿用事件标题 / default: the incident's title")
    instruction: str | None = Field(None, max_length=1000)
    severity: Level | None = Field(None, description="默认不变 / default: unchanged. "
                                   + SEVERITY_HELP)
    correction: str | None = Field(None, min_length=1, max_length=1000,
                                   description="更正了什么（有此项即为更正）/ what was wrong and "
                                               "what changed; makes this a correction")
    channels: list[str] | None = Field(None, description="默认：首报的渠道 / default: the first "
                                                         "report's channels")

    @property
    def step(self) -> str:
        return "correction" if self.correction else "update"


class UrgentCancel(_Step):
    """A withdrawal (撤回; CAP Cancel): retract wherever the channel allows, else a notice."""

    reason: str = Field(min_length=1, max_length=1000, description="撤回原因 / why it is "
                                                                   "withdrawn")


@dataclass(frozen=True)
class UrgentOutcome:
    """The incident and the release that carries this step."""

    incident_key: str
    release_id: int
    release_key: str
    channels: tuple[str, ...]
    skipped: tuple[str, ...]
    msg_type: str = "Alert"


class UrgentRejected(Exception):
    """The post cannot go out as written; nothing was recorded or sent."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"紧急信息未发布 / urgent post not published:\n{listing}")


class IncidentNotFound(UrgentRejected):
    """No incident has this key."""

    def __init__(self, key: str) -> None:
        super().__init__([f"没有事件 {key} / no incident {key}"])
        self.key = key


class IncidentClosed(UrgentRejected):
    """The incident was withdrawn: it takes no further steps."""

    def __init__(self, key: str) -> None:
        super().__init__([f"事件 {key} 已撤回，不能再发布 / incident {key} was withdrawn; "
                          "open a new one"])
        self.key = key
