"""Reader for Kinect v2 ``.skeleton`` text files (NTU RGB+D 60/120 and the demo dataset).

Format (spec §1.1): frame count; per frame a body count; per body a 10-field body-info line,
a joint-count line and one 12-field line per joint (``x y z depthX depthY colorX colorY
orientationW orientationX orientationY orientationZ trackingState``).

Two code paths, one result. ``parse_skeleton`` locates lines and fields with NumPy on the raw
bytes and converts only the requested fields, which is about 10x faster than tokenising every
line in Python. Any file that does not look canonical (single-space separated, every count
consistent) goes through ``_parse_lines``, a plain line-by-line reader that accepts any
whitespace and, for a broken file, raises :class:`SkeletonFormatError` naming the file, the line
and what is wrong. CRLF and LF files parse identically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Field names of a joint line, in file order.
JOINT_FIELDS = (
    "x", "y", "z", "depthX", "depthY", "colorX", "colorY",
    "orientationW", "orientationX", "orientationY", "orientationZ", "trackingState",
)  # fmt: skip
XYZ = (0, 1, 2)
BODY_INFO_FIELDS = 10

_NEWLINE, _CR, _SPACE = 10, 13, 32
# Bytes that may appear in a well-formed file: digits, sign, decimal point, exponent, blanks.
_NUMERIC_BYTES = b"0123456789+-.eE \t\r\n"


class SkeletonFormatError(ValueError):
    """A ``.skeleton`` file that cannot be read; the message names the file and line."""

    def __init__(self, path: str | Path, line: int | None, problem: str):
        self.path, self.line, self.problem = str(path), line, problem
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class SkeletonFile:
    """Parsed content of one file.

    Attributes:
        n_frames: frame count from the header (frames may hold no body).
        body_frame: (B,) frame index of every body block, in file order.
        body_slot: (B,) position of the body within its frame's list (0 = listed first).
        body_id: (B,) Kinect tracking id of each body (as text: it is a 64-bit integer).
        values: (B, V, len(fields)) float64, the requested joint fields.
    """

    n_frames: int
    body_frame: np.ndarray
    body_slot: np.ndarray
    body_id: tuple[str, ...]
    values: np.ndarray

    @property
    def max_bodies(self) -> int:
        """Largest number of bodies listed in one frame."""
        return int(self.body_slot.max()) + 1 if len(self.body_slot) else 0

    def dense(self, max_bodies: int) -> np.ndarray:
        """Values as a dense ``(max_bodies, n_frames, V, fields)`` array, zeros where absent.

        The m-th body listed in a frame goes to slot m, as in the original (spec §2.2);
        bodies beyond ``max_bodies`` in a frame are dropped.
        """
        v, c = self.values.shape[1:]
        out = np.zeros((max_bodies, self.n_frames, v, c), dtype=self.values.dtype)
        keep = self.body_slot < max_bodies
        out[self.body_slot[keep], self.body_frame[keep]] = self.values[keep]
        return out


def read_skeleton_file(
    path: str | Path,
    fields: tuple[int, ...] = XYZ,
    num_joints: int = 25,
    fields_per_joint: int = len(JOINT_FIELDS),
) -> SkeletonFile:
    """Read one ``.skeleton`` file; ``fields`` are indices into :data:`JOINT_FIELDS`."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise SkeletonFormatError(path, None, f"cannot read file ({err.strerror})") from err
    return parse_skeleton(data, path, fields, num_joints, fields_per_joint)


def parse_skeleton(
    data: bytes,
    path: str | Path = "<bytes>",
    fields: tuple[int, ...] = XYZ,
    num_joints: int = 25,
    fields_per_joint: int = len(JOINT_FIELDS),
) -> SkeletonFile:
    """Parse the bytes of a ``.skeleton`` file (see module docstring).

    ``fields_per_joint`` reads the same layout with other joint lines: N-UCLA's reformatted
    files have 4 fields, ``x y z trackingState`` (see :mod:`mmnet.datasets.nucla`); ``fields``
    then index those.
    """
    if any(not 0 <= f < fields_per_joint for f in fields):
        raise ValueError(f"joint field indices must lie in 0..{fields_per_joint - 1}")
    result = _parse_fast(data, fields, num_joints, fields_per_joint)
    if result is None:
        result = _parse_lines(data, path, fields, num_joints, fields_per_joint)
    return result


def _parse_fast(
    data: bytes, fields: tuple[int, ...], num_joints: int, fields_per_joint: int = len(JOINT_FIELDS)
) -> SkeletonFile | None:
    """Vectorised parse of a canonical file; ``None`` means "use the exact reader".

    One pass over the bytes finds every separator (blank, CR, line feed); a token is what lies
    between two of them. Lines are then classified by their token count (1: a count,
    ``BODY_INFO_FIELDS``: a body-info line, ``fields_per_joint``: a joint line), the file's
    structure is checked against the counts without a Python loop, and only the requested
    fields and the counts are converted (:func:`_convert`).
    """
    if not data or fields_per_joint in (1, BODY_INFO_FIELDS):
        return None
    if data.translate(None, _NUMERIC_BYTES) or b"\t" in data:
        return None
    buf = np.frombuffer(data, dtype=np.uint8)
    seps = np.flatnonzero(buf <= _SPACE)  # blanks, CRs and line feeds (no other byte <= 32)
    kinds = buf[seps]
    if buf[-1] != _NEWLINE:  # the last line has no line feed: end it at the end of the data
        seps = np.append(seps, len(buf))
        kinds = np.append(kinds, np.uint8(_NEWLINE))
    eol = np.flatnonzero(kinds == _NEWLINE)  # the separator that ends each line
    crs = np.flatnonzero(kinds == _CR)
    # Canonical: a CR only just before a line feed, and no empty token (no leading, doubled or
    # trailing blank, no empty line): consecutive separators are exactly the CR-LF pairs.
    if seps[0] == 0 or not np.array_equal(np.flatnonzero(np.diff(seps) == 1), crs):
        return None
    if len(crs) and (kinds[crs + 1] != _NEWLINE).any():
        return None
    first = np.concatenate(([0], eol[:-1] + 1))  # first token of each line
    n_tokens = eol - first + 1 - (kinds[eol - 1] == _CR)  # the CR-LF gap is no token
    n_lines = len(eol)
    # Counts: every one-token line (frame count, body counts, joint counts).
    is_count = n_tokens == 1
    count_lines = np.flatnonzero(is_count)
    if not len(count_lines) or count_lines[0] != 0:
        return None
    counts = _convert(data, seps, first[count_lines], pa.int64())
    if counts is None or (counts < 0).any():
        return None
    n_frames = int(counts[0])
    count_of = np.full(n_lines, -1, dtype=np.int64)
    count_of[count_lines] = counts
    # Structure: line 0, then per frame a body count and per body an info line, a joint count
    # and ``num_joints`` joint lines.
    block = 2 + num_joints
    info = np.flatnonzero(n_tokens == BODY_INFO_FIELDS)
    if len(info) and (info[-1] + 1 >= n_lines or not is_count[info + 1].all()):
        return None
    frame_mask = is_count.copy()
    frame_mask[0] = False
    frame_mask[info + 1] = False
    frame_lines = np.flatnonzero(frame_mask)
    if len(frame_lines) != n_frames:
        return None
    per_frame = count_of[frame_lines]
    chain = frame_lines + 1 + per_frame * block  # where the next frame's count must be
    if n_frames and (
        frame_lines[0] != 1 or chain[-1] != n_lines or (chain[:-1] != frame_lines[1:]).any()
    ):
        return None
    if not n_frames and n_lines != 1:
        return None
    body_frame = np.repeat(np.arange(n_frames), per_frame)
    first_body = np.repeat(np.cumsum(per_frame) - per_frame, per_frame)
    body_slot = np.arange(len(body_frame)) - first_body
    expected_info = np.repeat(frame_lines + 1, per_frame) + body_slot * block
    if not np.array_equal(expected_info, info):
        return None
    joint_lines = (info[:, None] + 2 + np.arange(num_joints)).ravel()
    if (count_of[info + 1] != num_joints).any() or (
        n_tokens[joint_lines] != fields_per_joint
    ).any():
        return None
    wanted = sorted(set(fields))
    tokens = (first[joint_lines][:, None] + np.asarray(wanted)).ravel()
    values = _convert(data, seps, tokens, pa.float64())
    if values is None:
        return None
    values = values.reshape(len(joint_lines), len(wanted))[:, [wanted.index(f) for f in fields]]
    id_starts = (seps[first[info] - 1] + 1).tolist() if len(info) else []
    id_ends = seps[first[info]].tolist()
    body_id = tuple(data[s:e].decode() for s, e in zip(id_starts, id_ends, strict=True))
    return SkeletonFile(
        n_frames=n_frames,
        body_frame=body_frame,
        body_slot=body_slot,
        body_id=body_id,
        values=values.reshape(len(info), num_joints, len(fields)),
    )


def _convert(
    data: bytes, seps: np.ndarray, tokens: np.ndarray, kind: pa.DataType
) -> np.ndarray | None:
    """Tokens number ``tokens`` (ascending) as ``kind`` numbers; None if one is not a number.

    Token t spans from just after separator t - 1 (or the start) to separator t. An Arrow
    string array is laid over the file's bytes with offsets alternating gap, token, gap,
    token... and a validity bitmap that marks only the tokens: no byte is copied, and Arrow's
    cast (one C++ loop, correctly rounded) converts the tokens and skips the gaps.
    """
    n = len(tokens)
    if n == 0:
        return np.zeros(0, dtype=kind.to_pandas_dtype())
    offsets = np.empty(2 * n + 2, dtype=np.int32)  # gap, token, ..., token, gap
    offsets[0], offsets[-1] = 0, len(data)
    offsets[1:-1:2] = seps[tokens - 1] + 1  # token 0 starts the data (fixed below)
    offsets[2:-1:2] = seps[tokens]
    if tokens[0] == 0:
        offsets[1] = 0
    valid = np.full((2 * n + 8) // 8, 0xAA, dtype=np.uint8)  # bits 1, 3, 5...: the tokens
    strings = pa.StringArray.from_buffers(
        2 * n + 1, pa.py_buffer(offsets), pa.py_buffer(data), pa.py_buffer(valid)
    )
    try:
        result = pc.cast(strings, kind)
    except pa.ArrowInvalid:
        return None
    numbers = np.frombuffer(result.buffers()[1], dtype=kind.to_pandas_dtype())
    return numbers[result.offset + 1 : result.offset + 2 * n : 2]


def _parse_lines(
    data: bytes,
    path: str | Path,
    fields: tuple[int, ...],
    num_joints: int,
    fields_per_joint: int = len(JOINT_FIELDS),
) -> SkeletonFile:
    """Exact line-by-line reader: any whitespace, precise errors (slow path)."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise SkeletonFormatError(path, line, "non-ASCII byte in file") from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    pos = 0

    def next_fields(expected: int, what: str) -> list[str]:
        nonlocal pos
        if pos >= len(lines):
            raise SkeletonFormatError(
                path, pos + 1, f"file ends early: expected {what} ({len(lines)} lines in file)"
            )
        tokens = lines[pos].split()
        pos += 1
        if len(tokens) != expected:
            ending = " (last line of the file: truncated?)" if pos == len(lines) else ""
            raise SkeletonFormatError(
                path, pos, f"expected {what} with {expected} field(s), found {len(tokens)}{ending}"
            )
        return tokens

    def count(what: str) -> int:
        (token,) = next_fields(1, what)
        try:
            value = int(token)
        except ValueError:
            raise SkeletonFormatError(path, pos, f"{what} {token!r} is not an integer") from None
        if value < 0:
            raise SkeletonFormatError(path, pos, f"{what} is negative ({value})")
        return value

    if not lines:
        raise SkeletonFormatError(path, 1, "file is empty")
    n_frames = count("frame count")
    frames, slots, ids, values = [], [], [], []
    for frame in range(n_frames):
        for slot in range(count(f"body count of frame {frame + 1}")):
            ids.append(next_fields(BODY_INFO_FIELDS, "a body-info line")[0])
            n = count("joint count")
            if n != num_joints:
                raise SkeletonFormatError(path, pos, f"joint count is {n}, expected {num_joints}")
            for _ in range(num_joints):
                tokens = next_fields(fields_per_joint, "a joint line")
                try:
                    values.append([float(tokens[f]) for f in fields])
                    [float(t) for t in tokens]
                except ValueError:
                    bad = next(t for t in tokens if not _is_float(t))
                    raise SkeletonFormatError(
                        path, pos, f"joint field {bad!r} is not a number"
                    ) from None
            frames.append(frame)
            slots.append(slot)
    if pos != len(lines):
        raise SkeletonFormatError(
            path, pos + 1, f"{len(lines) - pos} unexpected line(s) after the last frame"
        )
    return SkeletonFile(
        n_frames=n_frames,
        body_frame=np.asarray(frames, dtype=np.int64),
        body_slot=np.asarray(slots, dtype=np.int64),
        body_id=tuple(ids),
        values=np.asarray(values, dtype=np.float64).reshape(len(frames), num_joints, len(fields)),
    )


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True
