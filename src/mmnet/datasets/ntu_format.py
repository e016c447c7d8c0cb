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
    """Vectorised parse of a canonical file; ``None`` means "use the exact reader"."""
    if not data or data.translate(None, _NUMERIC_BYTES):
        return None
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buf == _NEWLINE)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(buf)]))
    if starts[-1] == ends[-1]:  # file ends with a newline
        starts, ends = starts[:-1], ends[:-1]
    ends = ends - (buf[np.maximum(ends - 1, 0)] == _CR)
    spaces = np.flatnonzero(buf == _SPACE)
    first_space = np.searchsorted(spaces, starts)
    n_spaces = np.searchsorted(spaces, ends) - first_space
    # Canonical lines have no leading/trailing blanks and single spaces: a count line has no
    # space, a body-info line 9, a joint line 11. Anything else goes to the exact reader.
    if (ends <= starts).any() or (buf[starts] == _SPACE).any() or (buf[ends - 1] == _SPACE).any():
        return None
    count_lines = np.flatnonzero(n_spaces == 0)
    values_of_counts = _to_int(data, starts[count_lines], ends[count_lines])
    counts = dict(zip(count_lines.tolist(), values_of_counts, strict=True))
    n_lines = len(starts)
    block = 2 + num_joints  # body-info line, joint-count line, joint lines
    n_frames = counts.get(0)
    if n_frames is None or n_frames < 0:
        return None
    frame_lines: list[int] = []  # line of each frame's body count
    pos = 1
    for _ in range(n_frames):
        n_bodies = counts.get(pos)
        if n_bodies is None or n_bodies < 0:
            return None
        frame_lines.append(pos)
        pos += 1 + n_bodies * block
        if pos > n_lines:
            return None
    if pos != n_lines:
        return None
    per_frame = np.asarray([counts[p] for p in frame_lines], dtype=np.int64)
    body_frame = np.repeat(np.arange(n_frames), per_frame)
    first_body = np.repeat(np.cumsum(per_frame) - per_frame, per_frame)
    body_slot = np.arange(len(body_frame)) - first_body
    info = np.repeat(np.asarray(frame_lines, dtype=np.int64) + 1, per_frame) + body_slot * block
    joint_lines = (info[:, None] + 2 + np.arange(num_joints)).ravel()
    if len(info):
        joint_counts = np.full(n_lines, -1)
        joint_counts[count_lines] = [-1 if v is None else v for v in values_of_counts]
        if (
            (n_spaces[info] != BODY_INFO_FIELDS - 1).any()
            or (n_spaces[joint_lines] != fields_per_joint - 1).any()
            or (joint_counts[info + 1] != num_joints).any()
        ):
            return None
    values = _gather_fields(
        data, starts, ends, spaces, first_space, joint_lines, fields, fields_per_joint
    )
    if values is None:
        return None
    id_ends = spaces[first_space[info]].tolist()
    body_id = tuple(data[s:e].decode() for s, e in zip(starts[info].tolist(), id_ends, strict=True))
    return SkeletonFile(
        n_frames=n_frames,
        body_frame=body_frame,
        body_slot=body_slot,
        body_id=body_id,
        values=values.reshape(len(info), num_joints, len(fields)),
    )


def _to_int(data: bytes, starts: np.ndarray, ends: np.ndarray) -> list[int | None]:
    out: list[int | None] = []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        try:
            out.append(int(data[s:e]))
        except ValueError:
            out.append(None)
    return out


def _gather_fields(
    data: bytes,
    starts: np.ndarray,
    ends: np.ndarray,
    spaces: np.ndarray,
    first_space: np.ndarray,
    lines: np.ndarray,
    fields: tuple[int, ...],
    fields_per_joint: int,
) -> np.ndarray | None:
    """Convert fields ``fields`` of ``lines`` to float64 without splitting whole lines.

    Field f of a line spans from just after its f-th space (or the line start) to its
    (f+1)-th space (or the line end). An Arrow string array is laid over the file's bytes
    with offsets alternating gap, field, gap, field... (no copy), and the fields are cast to
    double in one C++ loop.
    """
    if len(lines) == 0:
        return np.zeros((0, len(fields)))
    wanted = sorted(set(fields))
    last = fields_per_joint - 1
    first = first_space[lines]
    bounds = []
    for f in wanted:
        bounds.append(starts[lines] if f == 0 else spaces[first + f - 1] + 1)
        bounds.append(ends[lines] if f == last else spaces[first + f])
    offsets = np.empty(2 * len(lines) * len(wanted) + 2, dtype=np.int32)
    offsets[0], offsets[-1] = 0, len(data)
    offsets[1:-1] = np.stack(bounds, axis=1).ravel()
    strings = pa.StringArray.from_buffers(
        len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(data)
    )
    tokens = pc.take(strings, pa.array(np.arange(1, len(offsets) - 1, 2)))
    try:
        values = pc.cast(tokens, pa.float64()).to_numpy().reshape(len(lines), len(wanted))
    except pa.ArrowInvalid:
        return None
    return values[:, [wanted.index(f) for f in fields]]


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
