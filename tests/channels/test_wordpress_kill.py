"""A sender killed (SIGKILL) while WordPress holds its answer: the restarted send makes no second post."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from pydantic import SecretStr

from channels.base import ChannelContext, Message, idempotency_key
from channels.wordpress.adapter import WordPressChannel, WordPressSettings
from channels.wordpress.sandbox import serve

ROOT = Path(__file__).resolve().parents[2]
SENDER = textwrap.dedent('''
    import sys
    from datetime import UTC, datetime
    from pathlib import Path
    import requests
    from pydantic import SecretStr
    from channels.base import ChannelContext, Message
    from channels.wordpress.adapter import WordPressChannel, WordPressSettings
    context = ChannelContext(clock=lambda: datetime(2026, 12, 2, tzinfo=UTC),
                             sleep=lambda s: None, session=requests.Session(),
                             work_dir=Path("."))
    settings = WordPressSettings(base_url=sys.argv[1], username="bot",
                                 application_password=SecretStr("pass word"),
                                 timeout_seconds=600)
    channel = WordPressChannel("wordpress-main", settings, context)
    message = Message(release_key="food-safety-sampling@2026-12-02T10:00+08:00",
                      definition_id="food-safety-sampling", title="食品安全监督抽检信息的通告",
                      body="<p>正文</p>", body_format="html", metadata={
                          "issuing_organ": "某市市场监督管理局", "subject_category": "食品安全",
                          "index_number": "MB0000123/2026-00001", "published_date": "2026-12-02",
                          "column": "food-safety", "column_name": "食品安全抽检",
                          "slug": "food-safety-sampling-20261202-1000"})
    channel.send(channel.prepare(message), sys.argv[2])
''')


@pytest.mark.slow
def test_killed_mid_send_then_restarted_leaves_one_post(tmp_path: Path) -> None:
    """The post lands, the sender dies before the answer, a new sender finds it: one post."""
    emulator = serve()
    emulator.state.add_user("bot", "pass word")
    emulator.state.faults.append("hold")
    key = idempotency_key("food-safety-sampling@2026-12-02T10:00+08:00", "wordpress-main")
    child = subprocess.Popen([sys.executable, "-c", SENDER, emulator.url, key], cwd=ROOT)
    try:
        assert emulator.state.holding.wait(timeout=60), "the sender never reached WordPress"
        child.kill()
        child.wait(timeout=30)
        assert emulator.state.creates == 1
        context = ChannelContext(clock=lambda: datetime(2026, 12, 2, tzinfo=UTC),
                                 sleep=lambda s: None, session=requests.Session(),
                                 work_dir=tmp_path)
        settings = WordPressSettings(base_url=emulator.url, username="bot",
                                     application_password=SecretStr("pass word"))
        channel = WordPressChannel("wordpress-main", settings, context)
        message = Message(release_key="food-safety-sampling@2026-12-02T10:00+08:00",
                          definition_id="food-safety-sampling", title="食品安全监督抽检信息的通告",
                          body="<p>正文</p>", body_format="html", metadata={
                              "issuing_organ": "某市市场监督管理局",
                              "subject_category": "食品安全",
                              "index_number": "MB0000123/2026-00001",
                              "published_date": "2026-12-02", "column": "food-safety",
                              "column_name": "食品安全抽检",
                              "slug": "food-safety-sampling-20261202-1000"})
        payload = channel.prepare(message)
        found = channel.find(key, payload)
        assert found is not None
        assert channel.send(payload, key).remote_id == found.remote_id
        assert emulator.state.creates == 1 and len(emulator.state.posts) == 1
    finally:
        if child.poll() is None:
            child.kill()
        emulator.stop()
