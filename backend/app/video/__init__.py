"""Video analysis domain module: PyAV decoding, shot/transition detection, clip proposals, export.

Pure functions over file paths and numpy arrays; nothing here touches the database, the API or asyncio,
so queue handlers can call `analyze_video` from a worker thread. See `clips.py` for the exact definition
of `ClipProposal.visual_score`.
"""

from .analyze import analyze_video
from .decode import probe_video
from .errors import AnalysisCancelled, VideoError
from .export import export_clip, write_thumbnail
from .learned import transnet_available
from .models import AnalysisOptions, AnalysisResult, ClipProposal, Shot, Transition

__all__ = [
    "AnalysisCancelled",
    "AnalysisOptions",
    "AnalysisResult",
    "ClipProposal",
    "Shot",
    "Transition",
    "VideoError",
    "analyze_video",
    "export_clip",
    "probe_video",
    "transnet_available",
    "write_thumbnail",
]
