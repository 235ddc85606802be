"""Benchmark: peak memory of a picture that decodes huge, decoded as before next to checked as now.

Each figure is one fresh process's peak resident memory (VmHWM) minus its size before
the step, so the steps do not share a heap. ``decode`` is what the WeChat adapter did before
channels/picture.py (``Image.open`` then ``load``); ``check`` is ``picture.check`` on the same
file (refused from its header); ``accepted`` is ``picture.check`` on a 24-megapixel JPEG, the
cost of a picture that passes (decoded at 1/8 scale).

    .venv/bin/python bench/picture_memory.py            # a 12000×12000 PNG, as in issue 11
    .venv/bin/python bench/picture_memory.py --quick    # 9000×9000, a 6-megapixel JPEG
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import struct
import subprocess
import sys
import tempfile
import time
import warnings
import zlib
from pathlib import Path

if __package__ in (None, ""):  # run as a file (bench/picture_memory.py): the project root first
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent


def huge_png(width: int, height: int) -> bytes:
    """A valid 8-bit RGB PNG of black pixels: kilobytes on disk, width × height × 3 decoded."""
    compressor = zlib.compressobj(9)
    row = bytes(1 + 3 * width)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def photo_jpeg(width: int, height: int) -> bytes:
    """A JPEG of noise, about what a camera photo of that size decodes to."""
    from PIL import Image

    out = io.BytesIO()
    Image.effect_noise((width, height), 60).convert("RGB").save(out, format="JPEG", quality=70)
    return out.getvalue()


def _maxrss_mib() -> float:
    """This process's peak resident memory in MiB: VmHWM, which counts this program only,
    where Linux has it; ``ru_maxrss`` would start at the parent's size (Linux carries it across
    fork and exec, so under a large pytest process every step would add nothing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode: str, path: str) -> dict[str, object]:
    """One step in this process: its peak memory added, in MiB, and what came of it."""
    from PIL import Image

    from channels import picture

    data = Path(path).read_bytes()
    before = _maxrss_mib()
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        if mode == "decode":
            try:
                with Image.open(io.BytesIO(data)) as image:
                    image.load()
                    outcome = f"decoded {image.size[0]}×{image.size[1]} {image.mode}"
            except Image.DecompressionBombError as exc:
                outcome = f"DecompressionBombError: {exc}"
        else:
            try:
                checked = picture.check(data)
                outcome = f"accepted {checked.width}×{checked.height}"
            except picture.PictureProblem as exc:
                outcome = f"refused: {exc.en}"
    return {"mode": mode, "added_mib": round(_maxrss_mib() - before, 1),
            "seconds": round(time.perf_counter() - started, 3), "outcome": outcome}


def _run(mode: str, path: Path) -> dict[str, object]:
    answer = subprocess.run([sys.executable, __file__, "--child", mode, str(path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, check=True)
    result: dict[str, object] = json.loads(answer.stdout)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=12_000, help="the huge PNG's side in pixels")
    parser.add_argument("--quick", action="store_true", help="a 9000×9000 PNG, 6 MP JPEG")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    side = 9_000 if args.quick else args.side
    photo = (3_000, 2_000) if args.quick else (6_000, 4_000)
    with tempfile.TemporaryDirectory(prefix="bench-picture-") as folder:
        png, jpeg = Path(folder) / "huge.png", Path(folder) / "photo.jpg"
        png_bytes = huge_png(side, side)
        png.write_bytes(png_bytes)
        jpeg.write_bytes(photo_jpeg(*photo))
        decode, check, accepted = _run("decode", png), _run("check", png), _run("check", jpeg)
    added = (float(str(decode["added_mib"])), float(str(check["added_mib"])))
    result = {
        "png": {"side": side, "bytes": len(png_bytes),
                "decoded_mib": round(side * side * 3 / 2**20, 1)},
        "decode": decode, "check": check, "accepted": accepted,
        # the peak moves in whole pages past the start-up peak: below 1 MiB counts as 1
        "ratio_decode_to_check": round(added[0] / max(added[1], 1.0), 1),
        "ok": str(check["outcome"]).startswith("refused")
        and str(accepted["outcome"]).startswith("accepted"),
    }
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"{side}×{side} PNG of {len(png_bytes)} bytes ({side * side * 3 / 2**20:.0f} MiB "
              "decoded as RGB)")
        for name in ("decode", "check", "accepted"):
            step = result[name]
            assert isinstance(step, dict)
            print(f"  {name:9} +{step['added_mib']:>7} MiB  {step['seconds']:>6} s  "
                  f"{step['outcome']}")
        print(f"  decode / check: at least {result['ratio_decode_to_check']}× (a step under "
              "1 MiB counts as 1 MiB)")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
