"""The content checks' rules: personal data with their number rules and masks, wording errors with
context exceptions, sensitive words with levels, leaders' names beside their titles, and the lists'
own problems named by file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from channels.base import Payload
from publisher import config as config_module
from publisher.config.checks import ChecksConfig
from publisher.scan import ListError, Scanner, load_lists
from publisher.scan.lists import Leader, Lists, SensitiveEntry, WordingEntry
from publisher.scan.personal import find, mask

ID_NUMBER = "310101199001011234"  # check digit 4 is right for 31010119900101123
ID_WRONG_DIGIT = "310101199001011230"
BANK_CARD = "6222020200112233446"  # Luhn check digit 6
KINDS = ("id_number", "mobile", "landline", "bank_card", "email")


def _scanner(**lists: object) -> Scanner:
    made = Lists(**lists)  # type: ignore[arg-type]
    made.titles.update({"市长", "副市长", "常务副市长", "区长", "书记"})
    for leader in made.leaders:
        made.titles.update(leader.titles, leader.former)
    return Scanner(made, ChecksConfig())


# --------------------------------------------------------------------------- personal data


def test_id_number_needs_its_check_digit_and_is_masked() -> None:
    """Only an 18-digit number whose check digit is right counts as a resident ID number, and it
    is shown as its first four and last four digits."""
    hits = find(f"身份证号{ID_NUMBER}，另一个{ID_WRONG_DIGIT}。", KINDS)
    assert [(h.kind, h.value, h.masked) for h in hits] == [
        ("id_number", ID_NUMBER, "3101**********1234")]
    assert mask("id_number", "11010519491231002X") == "1101**********002X"


def test_phone_numbers_bank_cards_and_addresses_are_found() -> None:
    """Mobile and landline numbers (phonenumbers), a Luhn-valid bank card and an e-mail address
    are each found and masked; dates, batch numbers and a card number failing Luhn are not."""
    text = (f"联系人手机138-1234-5678，办公电话（021）61202001，卡号{BANK_CARD}，"
            "邮箱 zhang.san@example.cn；批号20261202001，日期2026-12-02，卡号6222020200112233441")
    hits = {h.kind: h.masked for h in find(text, KINDS)}
    assert hits == {"mobile": "138****5678", "landline": "021****2001",
                    "bank_card": "6222***********3446", "email": "z***@example.cn"}


def test_allowed_values_stand() -> None:
    """A number the office publishes on purpose (its hotline) is not a finding."""
    assert find("咨询电话：010-12345678", KINDS, {"01012345678"}) == []


# --------------------------------------------------------------------------- lists


def test_wording_error_with_a_context_exception() -> None:
    """A wrong form is found with its right form as the advice, but not inside a phrase listed
    as its exception."""
    scanner = _scanner(wording=[
        WordingEntry("扫黑险恶", "扫黑除恶"),
        WordingEntry("四个意思", "四个意识", exceptions=("这四个意思",))])
    hits = scanner.hits("深入开展扫黑险恶专项斗争，增强四个意思。这四个意思是……")
    assert [(h.kind, h.found, h.level) for h in hits] == [
        ("wording", "扫黑险恶", "block"), ("wording", "四个意思", "block")]
    assert "扫黑除恶" in hits[0].advice_zh


@pytest.mark.parametrize("level", ["block", "review", "warn"])
def test_sensitive_words_keep_their_level(level: str) -> None:
    """A sensitive word's finding has the level its entry gives."""
    scanner = _scanner(sensitive=[SensitiveEntry("内部资料", level)])  # type: ignore[arg-type]
    [hit] = scanner.hits("本文件为内部资料，注意保存。")
    assert (hit.kind, hit.level, hit.found) == ("sensitive", level, "内部资料")


def test_names_beside_a_wrong_or_former_title() -> None:
    """A registered name right after or before a title they do not hold, or hold no longer, is
    a finding; the current title is not."""
    scanner = _scanner(leaders=[Leader("张明", ("市长",), former=("副市长",))])
    found = [(h.found, "原职务" in h.advice_zh)
             for h in scanner.hits("市长张明出席。副市长张明讲话。张明区长到场。张明同志指出。")]
    assert found == [("副市长张明", True), ("张明区长", False)]


def test_scan_names_channel_field_and_cell() -> None:
    """A finding in a payload names its channel and field, and the data cell it came from."""
    from publisher.source import Table

    scanner = _scanner(wording=[WordingEntry("扫黑险恶", "扫黑除恶")])
    table = Table("items", Path("inbox/w.csv"), [{"item": "苹果"}, {"item": f"张三{ID_NUMBER}"}],
                  (("第 2 行", "row 2", 2), ("第 3 行", "row 3", 3)), {"item": "项目"})
    payloads = {"wechat-main": Payload("wechat", {"title": "扫黑险恶", "digest": "x",
                                                  "content": f"<p>张三{ID_NUMBER}</p>"})}
    findings = {(f.kind, f.channel, f.field, f.cell.label() if f.cell else None)
                for f in scanner.scan(payloads, [table])}
    assert findings == {("wording", "wechat-main", "title", None),
                        ("personal", "wechat-main", "content", "inbox/w.csv 第 3 行「项目」列")}
    assert scanner.scan(payloads, [table], allow_personal=["items.item"])[0].kind == "wording"


def test_lists_from_csv_and_yaml(tmp_path: Path, project: Path) -> None:
    """The config's CSV and YAML lists are read with the starter list; every problem names its
    file and line."""
    checks = project / "checks"
    checks.mkdir()
    (checks / "wording.csv").write_text("wrong,right,except\n扫黑险恶,扫黑除恶,\n某错,某对,\n",
                                        encoding="utf-8")
    (checks / "sensitive.yaml").write_text("- {word: 内部资料, level: review}\n"
                                           "- {word: 绝密, level: never}\n", encoding="utf-8")
    (checks / "names.csv").write_text("name,titles,former\n张明,市长,副市长\n", encoding="utf-8")
    config = project / "schedules.yaml"
    config.write_text(config.read_text(encoding="utf-8") + (
        "checks:\n  wording: [checks/wording.csv]\n  sensitive: [checks/sensitive.yaml]\n"
        "  names: [checks/names.csv]\n"), encoding="utf-8")
    with pytest.raises(ListError) as info:
        load_lists(config_module.load(config))
    assert [(Path(p.file).name, p.line) for p in info.value.problems] == [("sensitive.yaml", 2)]
    (checks / "sensitive.yaml").write_text("- {word: 内部资料, level: review}\n", encoding="utf-8")
    lists = load_lists(config_module.load(config))
    assert {e.wrong for e in lists.wording} >= {"扫黑险恶", "某错", "人民检查院"}
    assert [e.source for e in lists.wording if e.wrong == "扫黑险恶"] == [
        f"{checks / 'wording.csv'}:2"]  # the office's entry replaces the starter's
    assert sorted((e.word, e.level, Path(e.source).name.partition(":")[0])
                  for e in lists.sensitive) == [  # the shipped 内部资料 gave way to the office's
        ("内部文件", "review", "starter-sensitive.csv"), ("内部资料", "review", "sensitive.yaml"),
        ("机密★", "block", "starter-sensitive.csv"), ("秘密★", "block", "starter-sensitive.csv"),
        ("绝密★", "block", "starter-sensitive.csv")]
    assert [(e.name, e.titles, e.former) for e in lists.leaders] == [("张明", ("市长",), ("副市长",))]


def test_publisher_check_names_list_problems_and_shows_warnings(project: Path) -> None:
    """``publisher check`` reports an unusable list once, by file and line, and lists the
    samples' warnings without counting them as problems."""
    from datetime import datetime

    from publisher.check import check

    (project / "words.csv").write_text("word,level\n据悉,warn\n绝密,sometimes\n", encoding="utf-8")
    template = project / "templates" / "weekly" / "memory.txt.j2"
    template.write_text("据悉\n" + template.read_text(encoding="utf-8"), encoding="utf-8")
    config = project / "schedules.yaml"
    text = config.read_text(encoding="utf-8").replace(
        "          schema: simple\n", "          schema: simple\n          sample: sample.csv\n")
    config.write_text(text + "checks:\n  sensitive: [words.csv]\n", encoding="utf-8")
    (project / "sample.csv").write_text("项目,数量\n苹果,3\n", encoding="utf-8")
    at = datetime.fromisoformat("2026-12-02T10:00+08:00")
    problems = check(config_module.load(config), at=at)
    assert [(Path(p.file).name, p.line, "sometimes" in p.message) for p in problems] == [
        ("words.csv", 3, True)]
    (project / "words.csv").write_text("word,level\n据悉,warn\n", encoding="utf-8")
    warnings: list[str] = []
    assert check(config_module.load(config), at=at, warnings=warnings) == []
    assert len(warnings) == 2 and all("据悉" in w and "[提醒]" in w for w in warnings)
