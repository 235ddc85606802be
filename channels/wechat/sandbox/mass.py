"""The emulated mass send (群发): 24-hour clientmsgid dedupe, the 60 s retry guard, a daily quota."""

from __future__ import annotations

import hashlib
from typing import Any

from channels.wechat.sandbox.common import DAY, Reply, urlsafe


class MassSend:
    """Mixed into the account; the attributes below are the account's."""

    mass_sends: list[dict[str, Any]]
    client_ids: dict[str, dict[str, Any]]
    drafts: dict[str, list[dict[str, Any]]]
    mass_status_polls: int
    mass_quota_per_day: int

    def now(self) -> float:
        raise NotImplementedError

    def fail(self, errcode: int, text: str, **extra: Any) -> Reply:
        raise NotImplementedError

    def next_id(self) -> int:
        raise NotImplementedError

    def sendall(self, body: dict[str, Any]) -> dict[str, Any]:
        now = self.now()
        media_id = str((body.get("mpnews") or {}).get("media_id") or "")
        client_id = body.get("clientmsgid")
        if client_id is not None and len(str(client_id).encode("utf-8")) > 32:
            raise self.fail(45067, "clientmsgid size out of limit")
        scope = body.get("filter") or {}
        key = str(client_id) if client_id else hashlib.sha256(
            f"{scope}|{media_id}".encode()).hexdigest()
        self.client_ids = {k: v for k, v in self.client_ids.items() if now - v["at"] < DAY}
        seen = self.client_ids.get(key)
        if seen is not None:
            last, seen["last_try"] = seen["last_try"], now
            if now - last < 60:
                raise self.fail(45066, "same clientmsgid retry too fast")
            raise self.fail(45065, "clientmsgid exist", msg_id=seen["msg_id"])
        if media_id not in self.drafts:
            raise self.fail(40007, "invalid media_id")
        today = [s for s in self.mass_sends if now - s["at"] < DAY]
        if len(today) >= self.mass_quota_per_day:
            raise self.fail(45028, "has no masssend quota")
        articles = self.drafts.pop(media_id)
        msg_id, data_id = self.next_id(), self.next_id()
        record = {"msg_id": msg_id, "msg_data_id": data_id, "clientmsgid": key, "at": now,
                  "articles": articles, "polls_left": self.mass_status_polls,
                  "status": "SENDING", "url": f"https://mp.weixin.qq.com/s?__biz=sandbox"
                                              f"&mid={data_id}&idx=1&sn={urlsafe(16)}"}
        self.mass_sends.append(record)
        self.client_ids[key] = {"msg_id": msg_id, "at": now, "last_try": now}
        return {"errcode": 0, "errmsg": "send job submission success", "msg_id": msg_id,
                "msg_data_id": data_id}

    def _mass(self, msg_id: Any) -> dict[str, Any]:
        for record in self.mass_sends:
            if str(record["msg_id"]) == str(msg_id):
                return record
        raise self.fail(40059, "invalid msg_id")

    def mass_get(self, msg_id: Any) -> dict[str, Any]:
        record = self._mass(msg_id)
        if record["status"] == "SENDING":
            if record["polls_left"] > 0:
                record["polls_left"] -= 1
            else:
                record["status"] = "SEND_SUCCESS"
        return {"msg_id": record["msg_id"], "msg_status": record["status"]}

    def mass_delete(self, msg_id: Any, article_idx: int) -> dict[str, Any]:
        record = self._mass(msg_id)
        record["status"] = "DELETE" if article_idx in (0, 1) else record["status"]
        record.setdefault("deleted_idx", []).append(article_idx)
        return {"errcode": 0, "errmsg": "ok"}
