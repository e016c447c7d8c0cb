"""Contact sheet of ROI tiles: see at a glance whether the crops are on the head and hands."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from mmnet.roi.store import RoiStore
from mmnet.roi.tile import tile_shape
from mmnet.store import atomic_path

log = logging.getLogger(__name__)

_CAPTION = 30  # pixels of text under each tile


def write_preview(
    roi_store: str | Path,
    samples: str | Path,
    out: str | Path,
    *,
    n_tiles: int = 16,
    class_names: tuple[str, ...] = (),
    seed: int = 0,
    training: bool = False,
) -> list[str]:
    """PNG of ``n_tiles`` evaluation tiles (``training``: a random training draw each) of
    available samples, spread over the classes, captioned with sample id and label."""
    store = RoiStore(roi_store)
    table = pd.read_parquet(samples, columns=["sample", "label"])
    rows = _pick_rows(table, store.available, n_tiles, seed)
    rng = np.random.default_rng(seed) if training else None
    tiles = [store.tile(row, rng) for row in rows]
    height, width = tiles[0].shape[:2] if tiles else tile_shape(store.temporal_rgb_frames)[:2]
    per_line = max(1, min(len(tiles), 8))
    lines = max(1, -(-len(tiles) // per_line))
    sheet = Image.new("RGB", (per_line * (width + 4), lines * (height + _CAPTION + 4)), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for i, (row, tile) in enumerate(zip(rows, tiles, strict=True)):
        x, y = (i % per_line) * (width + 4), (i // per_line) * (height + _CAPTION + 4)
        sheet.paste(Image.fromarray(tile), (x, y))
        label = int(table.at[row, "label"])
        name = class_names[label] if 0 <= label < len(class_names) else ""
        draw.text((x + 2, y + height + 2), str(table.at[row, "sample"]), fill="black", font=font)
        draw.text((x + 2, y + height + 15), f"{label}: {name}"[:36], fill="black", font=font)
    with atomic_path(out) as tmp:
        sheet.save(tmp, format="PNG")
    names = [str(table.at[row, "sample"]) for row in rows]
    log.info("preview of %d tiles -> %s", len(rows), out)
    return names


def _pick_rows(table: pd.DataFrame, available: np.ndarray, n: int, seed: int) -> list[int]:
    """Up to ``n`` available rows, round-robin over labels so every class shows up."""
    rng = np.random.default_rng(seed)
    by_label = {
        label: list(rng.permutation(group.index[available[group.index]]))
        for label, group in table.groupby("label")
    }
    rows: list[int] = []
    while len(rows) < n and any(by_label.values()):
        for label in sorted(by_label):
            if by_label[label] and len(rows) < n:
                rows.append(int(by_label[label].pop()))
    return rows
