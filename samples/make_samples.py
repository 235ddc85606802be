"""Writes the shipped sample data files (synthetic, in the bureaus' real formats) deterministically.

Run from anywhere: ``.venv/bin/python samples/make_samples.py``; the files land next to this
script, byte-identical on every run, so a diff shows exactly what changed.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

HERE = Path(__file__).resolve().parent
FIXED_TIME = (2026, 11, 30, 9, 0, 0)  # zip entry timestamps and document properties
FIXED_STAMP = "2026-11-30T09:00:00Z"

# --------------------------------------------------------------------------- food safety

FOOD_HEADERS = ["序号", "标称生产企业名称", "标称生产企业地址", "被抽样单位名称", "被抽样单位地址",
                "食品名称", "规格型号", "商标", "生产日期/批号"]
FAILURES_HEADER = "不合格项目║检验结果║标准值"
LAB_HEADER = "检验机构"
CATEGORY_HEADER = "分类"

LAB_CITY = "某市食品药品检验检测研究院"
LAB_GROUP = "某检测认证集团股份有限公司某市分公司"

# sampled units (被抽样单位): name, address
S_XINLONG = ("某市北山区鑫隆百货超市", "某市北山区桃源路35号")
S_HUIMIN = ("某市东城区惠民生鲜超市", "某市东城区解放路116号")
S_JIAJIALE = ("某市西城区家家乐超市有限公司", "某市西城区建设大道201号")
S_LI_STALL = ("某市南湖区城南农贸市场李记豆制品摊位", "某市南湖区城南农贸市场内B区12号")
S_YOUXUAN = ("某市高新区优选便利店", "某市高新区创业路9号")
S_YONGHUI = ("某市临江县永辉食品商行", "某市临江县滨河东路52号")
S_GAOXIN_MARKET = ("某市高新区新城农贸市场王记蔬菜摊位", "某市高新区新城农贸市场内A区7号")

# nominal producers (标称生产企业): name, address; "/" for loose agricultural products
P_XIANGMANYUAN = ("某市香满园食品加工坊", "某市北山区桃源路27号")
P_HEFENG = ("某市禾丰食品有限公司", "某市高新区工业园纬三路18号")
P_MAIXIANG = ("某省麦香园食品有限公司", "某省某市经济技术开发区富民路6号")
P_DOUXIANG = ("某市南湖区豆香坊豆制品店", "某市南湖区滨江路88号（临街商铺）")
P_QINGYUAN = ("某市清源豆制品有限公司", "某市临江县食品工业园2号")
P_QINGQUAN = ("某省清泉饮品有限公司", "某省某市新区泉水路1号")
P_GUOYUAN = ("某饮料（某省）有限公司", "某省某市高新技术开发区科技大道88号")
P_LAOTAN = ("某省老坛酿造有限公司", "某省某县城关镇酿造路10号")
P_JINSUI = ("某市金穗粮油有限公司", "某市临江县工业园区粮食路3号")
P_RUYE = ("某乳业股份有限公司", "某省某市乳业园区健康大道1号")
P_SHANLIHONG = ("某省山里红农副产品有限公司", "某省某县经济开发区农产品加工园3号")
LOOSE = ("/", "/")

Food = tuple[tuple[str, str], tuple[str, str], str, str, str, str | date, str]

UNQUALIFIED: list[tuple[Food, str, str]] = [
    ((P_XIANGMANYUAN, S_XINLONG, "桃酥", "散装称重", "/", date(2026, 11, 12), "糕点"),
     "菌落总数║2.6×10⁵，1.8×10⁵，9.2×10⁴，3.1×10⁵，2.2×10⁵CFU/g║"
     "n=5，c=2，m=10⁴CFU/g，M=10⁵CFU/g\n"
     "大肠菌群║86，43，120，<10，65CFU/g║n=5，c=2，m=10CFU/g，M=10²CFU/g", LAB_CITY),
    ((LOOSE, S_HUIMIN, "生姜", "/", "/", "2026-11-20(购进日期)", "食用农产品"),
     "铅(以Pb计)║0.32mg/kg║≤0.1mg/kg", LAB_GROUP),
    ((P_DOUXIANG, S_LI_STALL, "豆腐干", "散装称重", "/", date(2026, 11, 17), "豆制品"),
     "苯甲酸及其钠盐(以苯甲酸计)║0.126g/kg║不得使用", LAB_CITY),
    ((P_SHANLIHONG, S_JIAJIALE, "黄花菜（干）", "250g/袋", "山里红", date(2026, 9, 3), "蔬菜制品"),
     "二氧化硫残留量║0.79g/kg║≤0.2g/kg", LAB_GROUP),
]

QUALIFIED: list[Food] = [
    (P_HEFENG, S_YOUXUAN, "蛋黄酥", "300g/盒", "禾丰", date(2026, 11, 8), "糕点"),
    (P_HEFENG, S_JIAJIALE, "老婆饼", "散装称重", "/", date(2026, 11, 15), "糕点"),
    (P_MAIXIANG, S_JIAJIALE, "全麦面包", "400g/袋", "麦香园", date(2026, 11, 16), "糕点"),
    (P_MAIXIANG, S_YONGHUI, "奶油蛋糕（切片）", "80g/个", "麦香园", date(2026, 11, 18), "糕点"),
    (P_XIANGMANYUAN, S_XINLONG, "绿豆糕", "散装称重", "/", date(2026, 11, 14), "糕点"),
    (P_QINGYUAN, S_HUIMIN, "内酯豆腐", "400g/盒", "清源", date(2026, 11, 19), "豆制品"),
    (P_QINGYUAN, S_JIAJIALE, "千张", "250g/袋", "清源", date(2026, 11, 18), "豆制品"),
    (P_DOUXIANG, S_LI_STALL, "老豆腐", "散装称重", "/", date(2026, 11, 20), "豆制品"),
    (P_QINGYUAN, S_YONGHUI, "腐竹", "200g/袋", "清源", date(2026, 10, 22), "豆制品"),
    (LOOSE, S_HUIMIN, "大白菜", "/", "/", "2026-11-21(购进日期)", "食用农产品"),
    (LOOSE, S_HUIMIN, "菠菜", "/", "/", "2026-11-21(购进日期)", "食用农产品"),
    (LOOSE, S_GAOXIN_MARKET, "韭菜", "/", "/", "2026-11-20(购进日期)", "食用农产品"),
    (LOOSE, S_GAOXIN_MARKET, "芹菜", "/", "/", "2026-11-20(购进日期)", "食用农产品"),
    (LOOSE, S_JIAJIALE, "鸡蛋", "/", "/", "2026-11-19(购进日期)", "食用农产品"),
    (LOOSE, S_JIAJIALE, "猪肉", "/", "/", "2026-11-21(购进日期)", "食用农产品"),
    (LOOSE, S_YONGHUI, "苹果", "/", "/", "2026-11-18(购进日期)", "食用农产品"),
    (LOOSE, S_YONGHUI, "草鱼", "/", "/", "2026-11-21(购进日期)", "食用农产品"),
    (P_QINGQUAN, S_YOUXUAN, "饮用纯净水", "550mL/瓶", "清泉", date(2026, 10, 9), "饮料"),
    (P_QINGQUAN, S_XINLONG, "茉莉花茶（茶饮料）", "500mL/瓶", "清泉", date(2026, 9, 27), "饮料"),
    (P_GUOYUAN, S_JIAJIALE, "橙汁饮料", "1.25L/瓶", "果源", date(2026, 8, 30), "饮料"),
    (P_GUOYUAN, S_YOUXUAN, "柠檬味汽水", "330mL/罐", "果源", date(2026, 10, 2), "饮料"),
    (P_LAOTAN, S_JIAJIALE, "酿造酱油", "500mL/瓶", "老坛", "批号：LT20260815", "调味品"),
    (P_LAOTAN, S_XINLONG, "陈醋（酿造食醋）", "420mL/瓶", "老坛", date(2026, 7, 11), "调味品"),
    (P_LAOTAN, S_YONGHUI, "料酒", "500mL/瓶", "老坛", date(2026, 6, 25), "调味品"),
    (P_JINSUI, S_JIAJIALE, "大米", "5kg/袋", "金穗", date(2026, 10, 28), "粮食加工品"),
    (P_JINSUI, S_HUIMIN, "小麦粉（通用）", "2.5kg/袋", "金穗", date(2026, 10, 12), "粮食加工品"),
    (P_JINSUI, S_YONGHUI, "挂面", "1kg/袋", "金穗", date(2026, 9, 19), "粮食加工品"),
    (P_RUYE, S_YOUXUAN, "纯牛奶", "250mL/盒", "某乳", date(2026, 11, 2), "乳制品"),
    (P_RUYE, S_JIAJIALE, "风味发酵乳", "200g/杯", "某乳", date(2026, 11, 17), "乳制品"),
    (P_RUYE, S_XINLONG, "全脂乳粉", "400g/罐", "某乳", date(2026, 5, 6), "乳制品"),
]


def _food_cells(seq: int, food: Food) -> list[Any]:
    (producer, producer_address), (sampled, sampled_address), name, spec, brand, batch, _ = food
    return [seq, producer, producer_address, sampled, sampled_address, name, spec, brand, batch]


def unqualified_table() -> tuple[list[str], list[list[Any]]]:
    """不合格产品信息: header and rows (batch dates as ``date`` objects)."""
    headers = [*FOOD_HEADERS, FAILURES_HEADER, LAB_HEADER, CATEGORY_HEADER]
    rows = [[*_food_cells(i, food), failures, lab, food[6]]
            for i, (food, failures, lab) in enumerate(UNQUALIFIED, start=1)]
    return headers, rows


def qualified_table() -> tuple[list[str], list[list[Any]]]:
    """合格产品信息: header and rows."""
    headers = [*FOOD_HEADERS, CATEGORY_HEADER]
    rows = [[*_food_cells(i, food), food[6]] for i, food in enumerate(QUALIFIED, start=1)]
    return headers, rows


# --------------------------------------------------------------------------- other sources

REGIONS = ["中心城区", "东城区", "西城区", "南湖区", "北山区", "临江县"]
FORECAST: dict[date, list[tuple[int, int, str]]] = {  # per region: AQI low, high, pollutant
    date(2026, 12, 3): [(75, 105, "PM2.5"), (70, 100, "PM2.5"), (65, 95, "PM2.5"),
                        (60, 90, "PM2.5"), (45, 75, "PM2.5"), (40, 70, "PM10")],
    date(2026, 12, 4): [(45, 70, "PM2.5"), (40, 65, "PM2.5"), (40, 65, "PM2.5"),
                        (35, 60, "PM2.5"), (30, 55, "PM10"), (30, 55, "PM10")],
    date(2026, 12, 5): [(25, 45, "—"), (25, 45, "—"), (20, 40, "—"),
                        (20, 40, "—"), (20, 40, "—"), (15, 35, "—")],
}
LEVELS = [(50, "优"), (100, "良"), (150, "轻度污染"), (200, "中度污染"), (300, "重度污染"),
          (10_000, "严重污染")]
ADVICE = {
    "优": "空气质量令人满意，基本无空气污染，各类人群可正常活动。",
    "良": "空气质量可接受，极少数异常敏感人群应减少户外活动。",
    "轻度污染": "儿童、老年人及心脏病、呼吸系统疾病患者应减少长时间、高强度的户外锻炼。",
}


def _level(aqi: int) -> str:
    return next(name for top, name in LEVELS if aqi <= top)


def forecast_document() -> dict[str, Any]:
    """The monitoring centre's JSON export: a few districts × 3 days, keyed by header."""
    rows = []
    for day, values in FORECAST.items():
        for region, (low, high, pollutant) in zip(REGIONS, values, strict=True):
            low_level, high_level = _level(low), _level(high)
            level = low_level if low_level == high_level else f"{low_level}至{high_level}"
            rows.append({
                "区域": region, "预报日期": day.isoformat(), "AQI下限": low, "AQI上限": high,
                "空气质量等级": level, "首要污染物": pollutant if high > 50 else "—",
                "健康提示": ADVICE[high_level],
            })
    return {"发布单位": "某市生态环境监测中心", "发布时间": "2026-12-02T16:00:00+08:00",
            "rows": rows}


DISEASE_HEADERS = ["类别", "病名", "发病数", "死亡数"]
DISEASES: list[tuple[str, str, int, int]] = [
    ("甲类", "鼠疫", 0, 0), ("甲类", "霍乱", 0, 0),
    ("乙类", "新型冠状病毒感染", 36, 0), ("乙类", "病毒性肝炎", 412, 1),
    ("乙类", "肺结核", 186, 2), ("乙类", "梅毒", 203, 0), ("乙类", "淋病", 48, 0),
    ("乙类", "艾滋病", 11, 3), ("乙类", "猩红热", 57, 0), ("乙类", "百日咳", 64, 0),
    ("乙类", "细菌性和阿米巴性痢疾", 9, 0), ("乙类", "布鲁氏菌病", 6, 0),
    ("乙类", "流行性出血热", 3, 0),
    ("丙类", "流行性感冒", 9874, 0), ("丙类", "其它感染性腹泻病", 1236, 0),
    ("丙类", "手足口病", 318, 0), ("丙类", "流行性腮腺炎", 42, 0),
    ("丙类", "急性出血性结膜炎", 5, 0),
]

ALLOWANCE_HEADERS = ["区县", "城市低保户数", "城市低保人数", "城市低保标准（元/人·月）",
                     "农村低保户数", "农村低保人数", "农村低保标准（元/人·月）",
                     "低保资金支出（万元）"]
# district, urban households, urban persons, rural households, rural persons
DISTRICTS: list[tuple[str, int, int, int, int]] = [
    ("东城区", 2841, 4372, 0, 0), ("西城区", 2517, 3906, 0, 0), ("南湖区", 3105, 4988, 412, 705),
    ("北山区", 1986, 3214, 1533, 2871), ("江北区", 2230, 3547, 987, 1706),
    ("高新区", 604, 911, 218, 367), ("临江县", 1122, 1805, 4376, 7920),
    ("青石县", 846, 1368, 5012, 9134), ("云岭县", 713, 1150, 6248, 11873),
    ("白沙县", 658, 1037, 3891, 7215),
]


def allowance_rows() -> list[list[Any]]:
    """Districts with standards and a quarter's expenditure (万元, two decimals)."""
    rows = []
    for name, uh, up, rh, rp in DISTRICTS:
        county = name.endswith("县")
        urban, rural = (960, 780) if county else (1080, 900)
        spent = (up * urban * 0.62 + rp * rural * 0.58) * 3 / 10_000
        rows.append([name, uh, up, urban, rh, rp, rural, f"{spent:.2f}"])
    return rows


# --------------------------------------------------------------------------- writers


def write_csv(path: Path, headers: Sequence[str], rows: Sequence[Sequence[Any]],
              encoding: str) -> None:
    """CSV the way Excel writes it: CRLF rows, quoted multi-line cells, dates as ISO."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([v.isoformat() if isinstance(v, date) else v for v in row])
    path.write_bytes(buffer.getvalue().encode(encoding))


def add_sheet(book: Workbook, title: str, caption: str | None, headers: Sequence[str],
              rows: Sequence[Sequence[Any]], widths: dict[int, int] | None = None) -> None:
    """One sheet: an optional merged caption row, the header row, the data rows."""
    sheet = book.create_sheet(title)
    if caption:
        sheet.append([caption])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
        sheet.cell(1, 1).font = Font(bold=True, size=14)
        sheet.cell(1, 1).alignment = Alignment(horizontal="center")
    sheet.append(list(headers))
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for row in rows:
        sheet.append([datetime(v.year, v.month, v.day) if isinstance(v, date) else v
                      for v in row])
        for cell in sheet[sheet.max_row]:
            cell.alignment = Alignment(vertical="top", wrap_text=True)
            if isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd"
    for column in range(1, len(headers) + 1):
        width = (widths or {}).get(column, 14)
        sheet.column_dimensions[get_column_letter(column)].width = width


def save_workbook(book: Workbook, path: Path) -> None:
    """Save with fixed timestamps (zip entries and core properties), so bytes are stable."""
    raw = io.BytesIO()
    book.save(raw)
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", FIXED_STAMP.encode(), data)
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(entry, data)
    path.write_bytes(out.getvalue())


def new_book() -> Workbook:
    book = Workbook()
    book.remove(book.active)
    book.properties.creator = "某市数据共享交换平台"
    return book


def main() -> None:
    """Write every sample file next to this script."""
    food = HERE / "food-safety-sampling"
    unqualified_headers, unqualified = unqualified_table()
    qualified_headers, qualified = qualified_table()
    write_csv(food / "unqualified.csv", unqualified_headers, unqualified, "gb18030")
    write_csv(food / "qualified.csv", qualified_headers, qualified, "gb18030")
    book = new_book()
    wide = {2: 24, 3: 30, 4: 28, 5: 30, 6: 16, 10: 48, 11: 28}
    add_sheet(book, "不合格产品信息", "附件3  不合格产品信息", unqualified_headers, unqualified,
              {**wide, 9: 22})
    add_sheet(book, "合格产品信息", "附件2  合格产品信息", qualified_headers, qualified,
              {**wide, 9: 22})
    save_workbook(book, food / "food-safety-sampling.xlsx")

    document = forecast_document()
    (HERE / "air-quality-forecast" / "forecast.json").write_text(
        json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    book = new_book()
    add_sheet(book, "疫情概况", "全市法定传染病疫情概况", DISEASE_HEADERS,
              [list(row) for row in DISEASES], {2: 22})
    save_workbook(book, HERE / "notifiable-disease-monthly" / "diseases.xlsx")

    write_csv(HERE / "minimum-living-allowance-quarterly" / "districts.csv", ALLOWANCE_HEADERS,
              allowance_rows(), "utf-8-sig")


if __name__ == "__main__":
    main()
