"""Reader for Kinect v2 ``.skeleton`` text files (NTU RGB+D 60/120 and the demo dataset).

Format (spec §1.1): frame count; per frame a body count; per body a 10-field body-info line,
a joint-count line and one 12-field line per joint (``x y z depthX depthY colorX colorY
orientationW orientationX orientationY orientationZ trackingState``).

Two code paths, one result. ``parse_skeleton`` first hands the bytes to a compiled one-pass
reader (``_skeleton_text.c``: it checks the structure as it goes and converts only the
requested fields, correctly rounded). Any file that it declines as not canonical
(single-space separated, every count consistent, the joint fields up to the last one asked for
decimal numbers, the later ones made of number bytes) goes through ``_parse_lines``, a plain
line-by-line reader that accepts any whitespace and, for a broken file, raises
:class:`SkeletonFormatError` naming the file, the line and what is wrong. The line reader is
the reference: wherever the compiled one accepts a file, both give the same values (tested on
real and randomly damaged files); the one difference is a malformed number such as ``1-2`` in a
joint field after the last one asked for, which the line reader refuses and the compiled one
does not look at. CRLF and LF files parse identically.

Why compiled: a stage reads tens of thousands of 100-500 KiB files, and with NumPy and Arrow
every check is another sweep over the bytes; no reader on the package registries parses this
ragged layout in one pass (docs/performance.md, section 3). Where the extension is not built
(a source tree used without ``pip install``), every file takes the line reader, with a warning.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmnet.compiled import optional_module

_skeleton_text = optional_module(
    "mmnet.datasets._skeleton_text", "every .skeleton file takes the slow line reader"
)

#: Field names of a joint line, in file order.
JOINT_FIELDS = (
    "x", "y", "z", "depthX", "depthY", "colorX", "colorY",
    "orientationW", "orientationX", "orientationY", "orientationZ", "trackingState",
)  # fmt: skip
XYZ = (0, 1, 2)
BODY_INFO_FIELDS = 10


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
        data = read_bytes_reusing(path)
    except OSError as err:
        raise SkeletonFormatError(path, None, f"cannot read file ({err.strerror})") from err
    return parse_skeleton(data, path, fields, num_joints, fields_per_joint)


class _ReadBuffer(threading.local):
    data = bytearray()


_read_buffer = _ReadBuffer()


def read_bytes_reusing(path: str | Path) -> memoryview:
    """The file's bytes in this thread's reusable buffer, valid until the thread's next call.

    A new ``bytes`` per file of this size is fresh memory from the kernel each time: its page
    faults cost more than the copy itself (0.4 ms per NTU file in the shard process).
    """
    with open(path, "rb", buffering=0) as file:
        size = os.fstat(file.fileno()).st_size
        if len(_read_buffer.data) <= size:
            _read_buffer.data = bytearray(max(2 * size, 1 << 20))
        view = memoryview(_read_buffer.data)
        filled = 0
        while filled < len(view) and (count := file.readinto(view[filled:])):
            filled += count
    if filled == len(view):  # the file grew while being read: read it whole
        return memoryview(Path(path).read_bytes())
    return view[:filled]


def parse_skeleton(
    data: bytes | memoryview,
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
    data: bytes | memoryview,
    fields: tuple[int, ...],
    num_joints: int,
    fields_per_joint: int = len(JOINT_FIELDS),
) -> SkeletonFile | None:
    """One compiled pass over a canonical file; ``None`` means "use the exact reader".

    The buffers are sized for the most bodies the data could hold (each body block takes at
    least two bytes per token); ``_skeleton_text.scan`` fills them and checks the counts and
    lines on the way.
    """
    if _skeleton_text is None or fields_per_joint in (1, BODY_INFO_FIELDS):
        return None
    min_body_bytes = 2 * (BODY_INFO_FIELDS + 1 + num_joints * fields_per_joint)
    room = len(data) // min_body_bytes + 1
    values = np.empty(room * num_joints * len(fields), dtype=np.float64)
    frame_slot = np.empty((room, 2), dtype=np.int64)
    scanned = _skeleton_text.scan(
        data, num_joints, fields_per_joint, bytes(fields), values, frame_slot
    )
    if scanned is None:
        return None
    n_frames, n_bodies, body_id = scanned
    return SkeletonFile(
        n_frames=n_frames,
        body_frame=frame_slot[:n_bodies, 0],
        body_slot=frame_slot[:n_bodies, 1],
        body_id=body_id,
        values=values[: n_bodies * num_joints * len(fields)].reshape(
            n_bodies, num_joints, len(fields)
        ),
    )


def _parse_lines(
    data: bytes | memoryview,
    path: str | Path,
    fields: tuple[int, ...],
    num_joints: int,
    fields_per_joint: int = len(JOINT_FIELDS),
) -> SkeletonFile:
    """Exact line-by-line reader: any whitespace, precise errors (slow path)."""
    data = bytes(data)
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
