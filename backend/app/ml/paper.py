"""The paper's colour of a colour page, estimated robustly, and the white balance that makes it neutral.

Scans and photos show paper as cream, grey-blue or yellowed: a tint over the whole page that a gray model,
restoring luma only, would keep. The paper is the page's bright background, so its colour is the per-channel
median of the brightest pixels (the top :data:`BRIGHT_SHARE` by luma, sampled on a grid so that the cost
does not grow with the page): text, stamps and highlighter strokes are a minority of those pixels and do not
move a median. Each channel is then scaled so that the paper becomes a neutral gray of its own luma; colours
on the page (a red stamp, a yellow highlight) keep their hue relative to the paper.
"""

from __future__ import annotations

import numpy as np

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
BRIGHT_SHARE = 0.3
MAX_SAMPLES = 1 << 20
NEUTRAL = 0.01  # a paper whose channels differ by less than this is left as it is


def paper_color(img: np.ndarray) -> np.ndarray:
    """(3,) float32: the paper colour of an (H, W, 3) float image in [0, 1]."""
    h, w = img.shape[:2]
    step = max(1, int(np.ceil(np.sqrt(h * w / MAX_SAMPLES))))
    sample = img[::step, ::step].reshape(-1, 3)
    luma = sample @ LUMA
    bright = sample[luma >= np.quantile(luma, 1.0 - BRIGHT_SHARE)]
    return np.median(bright, axis=0).astype(np.float32)


def white_balance(img: np.ndarray) -> np.ndarray:
    """Scale the channels of ``img`` in place so that its paper becomes neutral; returns the paper colour found.

    Returns the estimate either way; nothing changes for a paper that is already neutral or nearly black.
    """
    paper = paper_color(img)
    if float(paper.max() - paper.min()) >= NEUTRAL and float(paper.min()) > 0.05:
        img *= (float(paper @ LUMA) / paper).astype(np.float32)
        np.clip(img, 0.0, 1.0, out=img)
    return paper
