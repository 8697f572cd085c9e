"""Plain data types returned by the video analysis (no behaviour beyond JSON conversion).

Frame indices count decoded frames in presentation order, starting at 0. Times are integer
milliseconds on the video's own clock (pts * time_base, relative to the first frame), so
variable-frame-rate videos get correct times.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Transition:
    """A shot boundary.

    For a cut, `start_frame == end_frame` is the first frame of the new shot. For a fade, dissolve or wipe,
    `[start_frame, end_frame]` (inclusive) is the span of frames that belong to the transition.
    `score` is a confidence in [0, 1].
    """

    kind: str  # "cut" | "fade" | "dissolve" | "wipe"
    start_frame: int
    end_frame: int
    start_ms: int
    end_ms: int
    score: float


@dataclass
class Shot:
    """A contiguous run of frames `[start_frame, end_frame]` (inclusive) between two transitions.

    Shots partition the video. `end_ms` is the start time of the next shot (or the duration for the last
    one), so `end_ms - start_ms` is the shot's duration. A gradual transition is split at its middle
    frame; `transition_in_span` gives the frames of the transition that opens this shot.
    """

    index: int
    start_frame: int
    end_frame: int
    start_ms: int
    end_ms: int
    transition_in: str  # "start" | "cut" | "fade" | "dissolve" | "wipe"
    transition_in_span: tuple[int, int] | None = None


@dataclass
class ClipProposal:
    """A suggested clip `[start_ms, end_ms)` inside one shot, with its `visual_score` in [0, 1]."""

    start_ms: int
    end_ms: int
    visual_score: float
    shot_index: int
    thumbnail_frame_ms: int


@dataclass
class AnalysisOptions:
    """Tuning knobs for `analyze_video`.

    `analysis_width` is the width (pixels) of the small luma image the detector works on; `threads` is
    the decoder thread count (0 chooses, see `decode.decoder_threads`). `batch_frames` sets how many frames
    are processed together (and how often `should_stop` is polled). With `thumbnails`, each clip's JPEG
    thumbnail is taken during the analysis pass (`AnalysisResult.thumbnails`), so nothing is decoded twice.
    `detector` "transnetv2" finds the transitions with the learned model instead (optional package, see `learned`).
    """

    min_clip_ms: int = 1500
    max_clip_ms: int = 30000
    max_clips: int = 50
    analysis_width: int = 64
    threads: int = 0
    batch_frames: int = 128
    thumbnails: bool = False
    detector: str = "skiplock"

    def __post_init__(self) -> None:
        if self.min_clip_ms <= 0 or self.max_clip_ms < self.min_clip_ms:
            raise ValueError("need 0 < min_clip_ms <= max_clip_ms")
        if self.max_clips < 0:
            raise ValueError("max_clips must be >= 0")
        if not 16 <= self.analysis_width <= 512:
            raise ValueError("analysis_width must be in [16, 512]")
        if self.detector not in ("skiplock", "transnetv2"):
            raise ValueError("detector must be 'skiplock' or 'transnetv2'")
        if self.batch_frames < 1 or self.threads < 0:
            raise ValueError("batch_frames must be >= 1 and threads >= 0")


@dataclass
class AnalysisResult:
    """Everything `analyze_video` found. `to_dict()` gives a JSON-ready dict."""

    duration_ms: int
    fps: float
    frames: int
    width: int
    height: int
    corrupt_frames: int
    shots: list[Shot] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    clips: list[ClipProposal] = field(default_factory=list)
    rotation: int = 0
    thumbnails: list[bytes | None] = field(default_factory=list, repr=False)  # JPEG per clip (if asked)

    def to_dict(self) -> dict[str, Any]:
        """Return plain dicts/lists/numbers only (tuples become lists), ready for `json.dumps`; the
        thumbnails' bytes are left out."""
        out = asdict(self)
        out.pop("thumbnails")
        for shot in out["shots"]:
            span = shot["transition_in_span"]
            shot["transition_in_span"] = list(span) if span is not None else None
        return out
