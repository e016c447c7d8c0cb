"""The ``status`` values of the per-sample tables, in one place.

``samples.parquet`` (index and skeleton stages), ``pose2d.parquet`` and ``roi.parquet`` keep
one row per sample; a sample a stage could not use keeps its row with a status and a
reason, so nothing disappears silently (docs/data.md).
"""

from __future__ import annotations

#: The sample is usable (``samples.parquet``) or the stage made its output (pose2d, roi).
STATUS_OK = "ok"
#: Listed in an exclusion list (the official missing-skeleton lists).
STATUS_EXCLUDED = "excluded"
#: Its files cannot be used (a malformed skeleton, a label window past the sequence...).
STATUS_REJECTED = "rejected"
#: Not processed by a stage, because an earlier stage did not keep the sample.
STATUS_SKIPPED = "skipped"
#: Nobody found in any frame the stage looked at.
STATUS_NO_PERSON = "no_person"
#: A ROI with some black columns (no frame with a person for them); still usable.
STATUS_PARTIAL = "partial"
#: The sample's video file is absent.
STATUS_VIDEO_MISSING = "video_missing"
#: The video cannot be demuxed or decoded.
STATUS_VIDEO_UNREADABLE = "video_unreadable"
#: The video's frame count differs from the skeleton's (a whole-sample video).
STATUS_FRAME_COUNT_MISMATCH = "frame_count_mismatch"
#: A frame-folder dataset (N-UCLA) has no frame folder or frame list for the sample.
STATUS_FRAMES_MISSING = "frames_missing"
#: None of the sample's listed frame files can be read.
STATUS_FRAMES_UNREADABLE = "frames_unreadable"
