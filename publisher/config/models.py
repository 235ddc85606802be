"""The shape of schedules.yaml as pydantic models (validation of single values)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from publisher.config.checks import ChecksConfig, DefinitionChecks
from publisher.period import PeriodUnit
from publisher.report.settings import DocumentType, ReportConfig
from publisher.severity import DEFAULT_CAP, CapSeverity, Level

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
ENV_REF = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")
ENV_REF_WHOLE = re.compile(r"^\$\{([A-Z_][A-Z0-9_]*)\}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class RetryPolicy(_Model):
    """How one delivery is retried: inside a claim (tenacity), then by the sweep."""

    attempts_per_claim: int = Field(3, ge=1, le=10)
    initial_wait_seconds: float = Field(1.0, gt=0, le=600)
    max_wait_seconds: float = Field(30.0, gt=0, le=3600)
    sweep_wait_seconds: float = Field(60.0, gt=0, le=86400)
    max_sweep_wait_seconds: float = Field(900.0, gt=0, le=86400)


class Defaults(_Model):
    """Values every release definition inherits unless it sets its own."""

    retry: RetryPolicy = RetryPolicy()
    urgent_retry: RetryPolicy = RetryPolicy(
        attempts_per_claim=4,
        initial_wait_seconds=0.5,
        max_wait_seconds=5,
        sweep_wait_seconds=10,
        max_sweep_wait_seconds=60,
    )
    misfire_grace_minutes: int = Field(60, ge=1, le=7 * 24 * 60)
    retry_deadline_hours: float = Field(24, gt=0, le=24 * 30)
    workers: int = Field(4, ge=1, le=64)
    urgent_workers: int = Field(4, ge=1, le=64)  # one per urgent channel at least


class ChannelConfig(_Model):
    """One account of one channel kind."""

    kind: str
    enabled: bool = True
    settings: dict[str, Any] = Field(default_factory=dict)


class ColumnSpec(_Model):
    """One column of a data table: its template id, its header and accepted variants."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    header: str
    aliases: list[str] = Field(default_factory=list)
    required: bool = True
    type: Literal["text", "int", "number", "date"] = "text"


class TableSchema(_Model):
    """The columns a data table must carry."""

    columns: list[ColumnSpec]


class TableSource(_Model):
    """Where one table of a release's data comes from."""

    path: str  # relative to data_dir; {placeholders} of the period; may end in .* for any format
    table_schema: str = Field(alias="schema")
    sheet: str | None = None
    sample: str | None = None  # shipped sample file, relative to the config file
    allow_empty: bool = False


class SourceConfig(_Model):
    """The data a release reads: its period and its tables."""

    period: PeriodUnit = "day"
    period_offset: int = Field(0, ge=-12, le=0)
    tables: dict[str, TableSource]


class InterpretationConfig(_Model):
    """A policy interpretation (解读) published together with the document (同步发布)."""

    title: str  # Jinja template, like the document's title
    templates: str  # its template folder under templates_dir


class ReleaseDefinition(_Model):
    """What to publish, when, from which data, to which channels."""

    title: str
    issuing_organ: str
    organ_code: str = Field(pattern=r"^[0-9A-Z]{9}$")
    subject_category: str
    column: str
    document_number: str | None = None
    schedule: str
    source: SourceConfig | None = None
    templates: str | None = None
    channels: list[str] = Field(min_length=1)
    misfire_grace_minutes: int | None = Field(None, ge=1, le=7 * 24 * 60)
    retry_deadline_hours: float | None = Field(None, gt=0, le=24 * 30)
    interpretation: InterpretationConfig | None = None
    # "required": rendered review_lead_minutes before its due time and published only once an
    # approver (never its author) approves it; not approved by the due time means held
    review: Literal["none", "required"] = "none"
    review_lead_minutes: int = Field(120, ge=1, le=7 * 24 * 60)
    # for the annual report (publisher/report): the kind of document (规章, 行政规范性文件, …)
    # and its 成文日期, a template rendering to YYYY-MM-DD (absent: not recorded)
    document_type: DocumentType | None = None
    signed_date: str | None = None
    checks: DefinitionChecks = DefinitionChecks()  # allowances of the content checks
    # data intake: this long before each scheduled run the data of its period is checked
    # (pre-flight); missing or invalid data alerts the office and ``data_contacts`` (Apprise
    # URLs of the bureau that supplies it, secrets as ${ENV} references)
    data_due_hours: float | None = Field(None, gt=0, le=30 * 24)
    data_contacts: list[str] = Field(default_factory=list)


class UrgentConfig(_Model):
    """How urgent posts go out: who issues them, where, and how fast they must land."""

    issuing_organ: str
    organ_code: str = Field(pattern=r"^[0-9A-Z]{9}$")
    subject_category: str
    column: str
    channels: list[str] = Field(min_length=1)  # the default: every channel that takes urgent posts
    sender: str = Field(pattern=r"^[^\s,<&]+$")  # the CAP sender id, e.g. the portal's domain
    templates: str = "_urgent"  # <templates>/follow_up/ and cancel/ hold the later steps' own
    retry_deadline_hours: float = Field(2, gt=0, le=48)
    # channels where an update is also a new post besides the follow-up (Weibo: a comment
    # under the first report, and a new post)
    update_new_post: list[str] = Field(default_factory=list)
    # the CAP severity of each grade of the Emergency Response Law (no national table: an
    # assumption each office may change); grades not given keep the default
    cap_severity: dict[Level, CapSeverity] = Field(default_factory=lambda: dict(DEFAULT_CAP))

    @field_validator("cap_severity")
    @classmethod
    def _every_grade(cls, value: dict[Level, CapSeverity]) -> dict[Level, CapSeverity]:
        return {**DEFAULT_CAP, **value}


class WebConfig(_Model):
    """The HTTP API and staff console served by ``publisher run``: where, whether, sessions."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)  # 0: any free port (tests)
    enabled: bool = True
    session_hours: float = Field(12, gt=0, le=24 * 30)  # a console session ends this idle
    secure_cookies: bool = False  # true behind a TLS reverse proxy: cookies only over HTTPS
    # addresses (or networks) of reverse proxies whose X-Forwarded-For/-Proto are believed;
    # empty: no forwarded header is believed from anyone, loopback included
    trusted_proxies: list[str] = Field(default_factory=list)
    # the names the server answers to (Host header); "*.example.gov.cn" matches sub-domains.
    # Empty: loopback names only (localhost, 127.0.0.1, ::1) and web.host when it is a name.
    allowed_hosts: list[str] = Field(default_factory=list)
    api_docs: bool = True  # /docs (Swagger UI, served from the package, nothing from elsewhere)
    password_checks: int = Field(2, ge=1, le=32)  # argon2 hashes at once (64 MiB each)
    password_queue: int = Field(16, ge=0, le=1000)  # sign-ins waiting for one; more: 503

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{item!r} 不是 IP 地址或网段（如 10.0.0.5、10.0.0.0/24）/ "
                                 f"{item!r} is not an IP address or network (e.g. 10.0.0.5 or "
                                 "10.0.0.0/24)") from None
        return [item.strip() for item in value]

    @field_validator("allowed_hosts")
    @classmethod
    def _host_patterns(cls, value: list[str]) -> list[str]:
        for item in value:
            if not item or "*" in item[1:] \
                    or (item.startswith("*") and item != "*" and not item.startswith("*.")) \
                    or (any(ch in item for ch in "/:@ ") and not _is_ip(item)):
                raise ValueError(f"{item!r} 不是主机名（如 console.example.gov.cn、"
                                 "*.example.gov.cn、10.0.0.5；不带协议、端口或路径）/ "
                                 f"{item!r} is not a host name (e.g. console.example.gov.cn, "
                                 "*.example.gov.cn or 10.0.0.5; no scheme, port or path)")
        return [item.lower() for item in value]

    def host_names(self) -> list[str]:
        """The Host header values (without port) the server answers to: ``allowed_hosts``, else
        loopback's names and ``host`` when it names one address."""
        names = list(self.allowed_hosts) or ["localhost", "127.0.0.1", "::1"]
        if not self.allowed_hosts and self.host not in ("0.0.0.0", "::", ""):  # noqa: S104
            names.append(self.host.lower())
        # a Host header writes an IPv6 address in brackets: [::1]:8000
        return list(dict.fromkeys(f"[{name}]" if ":" in name else name for name in names))


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class AlertsConfig(_Model):
    """Where alerts to staff go (Apprise URLs, secrets as ${ENV} references) and how often."""

    urls: list[str] = Field(default_factory=list)
    min_interval_seconds: float = Field(600, ge=0, le=7 * 86400)
    timeout_seconds: float = Field(10, gt=0, le=300)


class IntakeConfig(_Model):
    """Data handed in through the console or the API (``/data``, ``PUT /api/data/…``)."""

    max_file_mib: float = Field(10, gt=0, le=200)  # a larger upload is refused unread
    inbox_scan_seconds: float = Field(15, ge=0.5, le=3600)  # how often the inbox is looked at

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mib * 1024 * 1024)


class ClusterConfig(_Model):
    """Several ``publisher run`` nodes on one PostgreSQL database (publisher/cluster.py)."""

    enabled: bool = False  # on: a node whose scheduler lease is held stands by (PostgreSQL only)
    lease_seconds: float = Field(60, ge=1, le=3600)  # the scheduler's lease; takeover after it
    heartbeat_seconds: float = Field(5, gt=0, le=600)  # how often each node writes its row
    silent_seconds: float = Field(30, gt=0, le=3600)  # a node silent this long is presumed dead


class SandboxConfig(_Model):
    """The sandbox service (``publisher sandbox serve``): every channel's emulator in one
    process on fixed ports, its state on disk, shared by every ``--sandbox`` command."""

    host: str = "127.0.0.1"
    # the first emulated channel (in the config's order) listens here, the next on +1, …;
    # 0: any free port at each start (tests)
    base_port: int = Field(8700, ge=0, le=65535)
    ports: dict[str, int] = Field(default_factory=dict)  # a channel's own port, over base_port
    state_dir: str = "var/sandbox"  # <channel>.json per emulator, service.json while it runs

    @field_validator("host")
    @classmethod
    def _loopback(cls, value: str) -> str:
        if value not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"{value!r}: 模拟器只在本机回环地址上运行 / the emulators listen on "
                             "loopback only (127.0.0.1)")
        return value

    @field_validator("ports")
    @classmethod
    def _port_range(cls, value: dict[str, int]) -> dict[str, int]:
        for name, port in value.items():
            if not 0 < port < 65536:
                raise ValueError(f"{name}: {port} 不是端口号 / is not a port number (1-65535)")
        return value


class Config(_Model):
    """The whole of schedules.yaml."""

    timezone: str = "Asia/Shanghai"
    data_dir: str = "var/inbox"
    templates_dir: str = "templates"
    defaults: Defaults = Defaults()
    columns: dict[str, str] = Field(default_factory=dict)
    channels: dict[str, ChannelConfig]
    schemas: dict[str, TableSchema] = Field(default_factory=dict)
    releases: dict[str, ReleaseDefinition]
    urgent: UrgentConfig | None = None
    alerts: AlertsConfig = AlertsConfig()
    web: WebConfig = WebConfig()
    cluster: ClusterConfig = ClusterConfig()
    report: ReportConfig = ReportConfig()
    checks: ChecksConfig = ChecksConfig()  # content checks (publisher/scan)
    intake: IntakeConfig = IntakeConfig()
    # the shared sandbox service; absent: each --sandbox process starts its own emulators
    sandbox: SandboxConfig | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value


