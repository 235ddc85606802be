"""``/checks``: the office's lists of the content checks, for administrators: add or change an
entry, remove one, import a CSV; every change audited (publisher/scan/edit.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from publisher.logs import get_logger
from publisher.scan import edit
from publisher.scan.lists import COLUMNS
from publisher.web import role
from publisher.web.account import Account
from publisher.web.auth import current_app
from publisher.web.console.deps import check_csrf, field, page_router, render, require_page
from publisher.web.console.i18n import register

log = get_logger("publisher.web")
router = page_router()
KINDS = ("wording", "sensitive", "names")
Admin = Annotated[Account, Depends(require_page(role.CHECKS_MANAGE))]
Form = Annotated[FormData, Depends(check_csrf)]

register({
    "checks.title": ("内容检查名单", "Content-check lists"),
    "checks.help": ("错误表述、敏感词和领导姓名职务名单。每次修改都记入审计日志，并立即用于之后的检查；"
                    "随程序提供的常见严重表述错误清单另行生效。", "Wording errors, sensitive words "
                    "and the register of leaders' names and titles. Every change is audited and "
                    "used by the next check; the shipped starter lists apply besides."),
    "checks.kind.wording": ("错误表述（错误写法 → 正确写法）", "Wording errors (wrong → right)"),
    "checks.kind.sensitive": ("敏感词", "Sensitive words"),
    "checks.kind.names": ("领导姓名与职务", "Leaders' names and titles"),
    "checks.file": ("名单文件", "List file"),
    "checks.none": ("名单中还没有条目。", "The list has no entries yet."),
    "checks.unconfigured": ("配置中没有此类 CSV 名单。", "The config names no CSV list of this kind."),
    "checks.add": ("添加或修改", "Add or change"),
    "checks.remove": ("删除", "Remove"),
    "checks.import": ("导入 CSV（表头同上，同名条目被替换）", "Import CSV (the same header; entries "
                      "with the same key are replaced)"),
    "checks.done": ("已保存并记入审计日志。", "Saved and audited."),
    "checks.several": ("多个值用 | 分隔", "several values: separate with |"),
    "permission.checks.manage": ("管理内容检查名单", "manage the content-check lists"),
})


def _page(request: Request, *, done: bool = False, refusal: list[str] | None = None,
          status_code: int = 200) -> HTMLResponse:
    app = current_app(request)
    lists = []
    for kind in KINDS:
        try:
            path, entries = str(edit.office_file(app, kind)), edit.records(app, kind)
        except edit.EditRefused:
            path, entries = None, []
        required, optional = COLUMNS[kind]
        lists.append({"kind": kind, "file": path, "entries": entries,
                      "columns": [*required, *optional], "key": edit.KEYS[kind]})
    return render(request, "checks.html.j2", {"lists": lists, "done": done,
                                              "refusal": refusal or []}, status_code=status_code)


@router.get("/checks", response_class=HTMLResponse)
def page(request: Request, _account: Admin) -> HTMLResponse:
    return _page(request)


@router.post("/checks/{kind}/{action}", response_class=HTMLResponse)
def change(request: Request, kind: str, action: str, account: Admin, form: Form) -> HTMLResponse:
    if kind not in KINDS or action not in ("put", "remove", "import"):
        raise HTTPException(404)
    app = current_app(request)
    try:
        if action == "put":
            edit.put(app, kind, {c: field(form, c) for c in [*COLUMNS[kind][0], *COLUMNS[kind][1]]},
                     actor=account.actor)
        elif action == "remove":
            edit.remove(app, kind, field(form, "key"), actor=account.actor)
        else:
            edit.import_csv(app, kind, field(form, "csv"), actor=account.actor)
    except edit.EditRefused as exc:
        return _page(request, refusal=[str(p) for p in exc.problems], status_code=422)
    log.info("console.checks_list_changed", account=account.name, kind=kind, action=action)
    return _page(request, done=True)
