"""The .skeleton reader: exact values on real files, both line endings, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import reference_original as ref
from conftest import realdata

from mmnet.datasets.ntu_format import (
    JOINT_FIELDS,
    SkeletonFormatError,
    _parse_fast,
    _parse_lines,
    parse_skeleton,
    read_skeleton_file,
)

ALL_FIELDS = tuple(range(len(JOINT_FIELDS)))


def test_real_files_match_the_raw_text_exactly(ntu60_skeletons):
    assert len(ntu60_skeletons) == 7
    for path in ntu60_skeletons:
        parsed = read_skeleton_file(path, fields=ALL_FIELDS)
        info = ref.read_skeleton_dicts(str(path))
        assert parsed.n_frames == info["numFrame"]
        expected = [
            [[joint[k] for k in JOINT_FIELDS] for joint in body["jointInfo"]]
            for frame in info["frameInfo"]
            for body in frame["bodyInfo"]
        ]
        np.testing.assert_array_equal(parsed.values, np.array(expected))
        ids = [body["bodyID"] for frame in info["frameInfo"] for body in frame["bodyInfo"]]
        assert [float(i) for i in parsed.body_id] == ids


def test_matches_the_dataset_authors_txt2npy_output():
    derived = np.load(
        realdata("ntu60", "derived", "S001C001P001R001A001.skeleton.npy"), allow_pickle=True
    ).item()
    parsed = read_skeleton_file(realdata("ntu60", "skeletons", "S001C001P001R001A001.skeleton"))
    np.testing.assert_array_equal(parsed.dense(1)[0], derived["skel_body0"])


def test_known_frame_and_body_counts(ntu60_skeletons):
    counts = {p.stem[-4:]: read_skeleton_file(p) for p in ntu60_skeletons}
    frames = {k: v.n_frames for k, v in counts.items()}
    assert frames == {"A001": 103, "A002": 158, "A003": 104, "A004": 99, "A005": 54,
                      "A011": 82, "A058": 70}  # fmt: skip
    assert counts["A058"].max_bodies == 2 and counts["A001"].max_bodies == 1


def test_crlf_and_lf_parse_identically(ntu60_skeletons):
    data = ntu60_skeletons[0].read_bytes()
    assert b"\r\n" in data  # the real file has CRLF line endings
    crlf = parse_skeleton(data, fields=ALL_FIELDS)
    lf = parse_skeleton(data.replace(b"\r\n", b"\n"), fields=ALL_FIELDS)
    np.testing.assert_array_equal(crlf.values, lf.values)


def test_irregular_whitespace_takes_the_exact_path_and_agrees(ntu60_skeletons):
    data = ntu60_skeletons[0].read_bytes()
    messy = data.replace(b" ", b"  \t").replace(b"\r\n", b" \n")
    np.testing.assert_array_equal(parse_skeleton(messy).values, parse_skeleton(data).values)


def test_fast_and_exact_paths_agree_on_real_files(ntu60_skeletons):
    for path in ntu60_skeletons:
        data = path.read_bytes()
        fast = parse_skeleton(data, path, (5, 6))
        exact = _parse_lines(data, path, (5, 6), 25)
        np.testing.assert_array_equal(fast.values, exact.values)
        np.testing.assert_array_equal(fast.body_frame, exact.body_frame)
        np.testing.assert_array_equal(fast.body_slot, exact.body_slot)


def _small_file(frames: list[int]) -> list[str]:
    """A valid file as lines: one entry per frame giving its body count."""
    lines = [str(len(frames))]
    for n_bodies in frames:
        lines.append(str(n_bodies))
        for b in range(n_bodies):
            lines.append(f"7205759403793110{b} 0 1 1 1 1 0 0.01 0.02 2")
            lines.append("25")
            lines += [f"0.{j} 0.5 3.{j} 250 200 1000 500 1 0 0 0 2" for j in range(25)]
    return lines


def _encode(lines: list[str]) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode()


def test_small_file_with_empty_frames_and_two_bodies():
    parsed = parse_skeleton(_encode(_small_file([0, 2, 1, 0])))
    assert parsed.n_frames == 4
    assert parsed.body_frame.tolist() == [1, 1, 2]
    assert parsed.body_slot.tolist() == [0, 1, 0]
    dense = parsed.dense(4)
    assert dense.shape == (4, 4, 25, 3)
    assert not dense[:, 0].any() and not dense[:, 3].any() and not dense[2:].any()
    assert dense[1, 1, 3].tolist() == [0.3, 0.5, 3.3]


@pytest.mark.parametrize(
    ("mutate", "line", "message"),
    [
        (lambda ls: ls[:40], 41, "file ends early"),
        (lambda ls: ls[:3] + ["24"] + ls[4:], 4, "joint count is 24"),
        (
            lambda ls: ls[:10] + [ls[10].replace("0.5", "abc")] + ls[11:],
            11,
            "'abc' is not a number",
        ),
        (lambda ls: ls[:10] + [ls[10].rsplit(" ", 1)[0]] + ls[11:], 11, "found 11"),
        (lambda ls: ls + ["1"], 58, "unexpected line"),
        (lambda ls: ["x"] + ls[1:], 1, "frame count 'x' is not an integer"),
        (lambda ls: [], 1, "file is empty"),
        (lambda ls: ls[:1] + ["-1"] + ls[2:], 2, "negative"),
    ],
    ids=[
        "truncated",
        "joint-count",
        "non-numeric",
        "field-count",
        "trailing",
        "header",
        "empty",
        "negative",
    ],
)
def test_malformed_files_name_file_and_line(tmp_path, mutate, line, message):
    path = tmp_path / "S001C001P001R001A001.skeleton"
    lines = mutate(_small_file([1, 1]))
    path.write_bytes(_encode(lines) if lines else b"")
    with pytest.raises(SkeletonFormatError) as info:
        read_skeleton_file(path)
    assert info.value.path == str(path)
    assert info.value.line == line
    assert message in str(info.value) and str(path) in str(info.value)


def test_unreadable_file_is_a_format_error(tmp_path):
    with pytest.raises(SkeletonFormatError, match="cannot read"):
        read_skeleton_file(tmp_path / "absent.skeleton")


def test_fast_reader_equals_the_exact_one_or_declines_on_damaged_files():
    """Random insertions, deletions and truncations of blanks, CRs, line feeds, digits and
    letters: wherever the compiled reader accepts a file, it gives the exact reader's result
    (joint fields after the last one asked for are only checked for number bytes)."""
    rng = np.random.default_rng(0)
    pieces = [b" ", b"\n", b"\r", b"\r\n", b"\t", b"1", b"-", b".", b"e", b"x"]
    accepted = 0
    for _ in range(300):
        frames = rng.integers(0, 4, size=rng.integers(0, 4)).tolist()
        data = bytearray(_encode(_small_file(frames)) if rng.random() < 0.5 else b"")
        data = data or bytearray("\n".join(_small_file(frames)).encode() + b"\n")
        for _ in range(rng.integers(0, 3)):
            k = int(rng.integers(0, len(data) + 1))
            action = rng.random()
            if action < 0.4:
                data[k:k] = pieces[rng.integers(len(pieces))]
            elif action < 0.8:
                del data[k : k + int(rng.integers(1, 4))]
            else:
                del data[k:]
        data = bytes(data)
        fast = _parse_fast(data, (0, 1, 2), 25)
        if fast is None:
            continue
        try:
            exact = _parse_lines(data, "damaged", (0, 1, 2), 25)
        except SkeletonFormatError as err:  # a field after z, e.g. '2-0'
            assert "is not a number" in str(err)
            bad = err.problem.split("'")[1]
            fields = data.splitlines()[err.line - 1].split()
            assert fields.index(bad.encode()) > 2
            continue
        accepted += 1
        assert fast.n_frames == exact.n_frames and fast.body_id == exact.body_id
        np.testing.assert_array_equal(fast.values, exact.values)
        np.testing.assert_array_equal(fast.body_frame, exact.body_frame)
        np.testing.assert_array_equal(fast.body_slot, exact.body_slot)
    assert accepted > 50


def test_the_compiled_reader_is_built_and_takes_the_real_files(ntu60_skeletons):
    """`pip install -e .` builds it; without it every file would take the slow line reader."""
    for path in ntu60_skeletons:
        assert _parse_fast(path.read_bytes(), (0, 1, 2), 25) is not None, path


def _number(rng: np.random.Generator) -> str:
    """A decimal token of a random form: signs, leading zeros, no integer or no fraction part,
    17-25 significant digits (past the fast conversion), exponents up to +-400."""
    digits = "".join(rng.choice(list("0123456789"), size=int(rng.integers(1, 26))))
    cut = int(rng.integers(0, len(digits) + 1))
    text = f"{digits[:cut]}.{digits[cut:]}" if rng.random() < 0.8 else digits
    if text == ".":
        text = "0."
    if rng.random() < 0.4:
        text += f"{rng.choice(['e', 'E'])}{rng.choice(['', '+', '-'])}{rng.integers(0, 400)}"
    return f"{rng.choice(['', '-', '+'])}{text}"


def test_compiled_conversion_equals_float_bit_for_bit():
    """Every joint field, random forms: the compiled reader's double is float()'s."""
    rng = np.random.default_rng(1)
    for _ in range(40):
        lines = _small_file([1])
        numbers = [[_number(rng) for _ in range(12)] for _ in range(25)]
        lines[4:] = [" ".join(row) for row in numbers]
        parsed = _parse_fast(_encode(lines), tuple(range(12)), 25)
        assert parsed is not None
        expected = np.array([[float(t) for t in row] for row in numbers])
        np.testing.assert_array_equal(parsed.values[0].view(np.int64), expected.view(np.int64))


@pytest.mark.parametrize(
    ("field", "fields", "accepted"),
    [(0, (0, 1, 2), False), (1, (5, 6), False), (6, (5, 6), False), (8, (0, 1, 2), True)],
)
def test_a_malformed_number_declines_up_to_the_last_field_asked_for(field, fields, accepted):
    """Fields up to the last one asked for are read as numbers; later ones only checked for
    number bytes (the documented difference from the exact reader)."""
    lines = _small_file([1])
    tokens = lines[5].split()
    tokens[field] = "1-2"
    lines[5] = " ".join(tokens)
    assert (_parse_fast(_encode(lines), fields, 25) is not None) == accepted


def test_every_damaged_byte_after_the_fields_asked_for_declines():
    """Past z the reader checks 16 bytes at a time: a foreign byte or a doubled blank at any
    position of the line (both sides of a 16-byte boundary) sends the file to the exact
    reader, and the undamaged line is accepted."""
    lines = _small_file([1])
    line = "0.123456 -0.5 3.25 250.5 200.25 1000.125 500.5 1 -0 0.75 0.5 2"
    lines[5] = line
    assert _parse_fast(_encode(lines), (0, 1, 2), 25) is not None
    rest = len(" ".join(line.split()[:3])) + 1  # first byte after z's blank
    for k in range(rest, len(line)):
        for damaged in (line[:k] + "x" + line[k + 1 :], line[:k] + " " + line[k:]):
            lines[5] = damaged
            assert _parse_fast(_encode(lines), (0, 1, 2), 25) is None, damaged
