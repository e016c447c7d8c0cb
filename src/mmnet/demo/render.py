"""Camera model and rendering for the demo datasets (see :mod:`mmnet.demo`).

The images must agree with the skeleton files to the pixel, because the RGB side crops
regions around the joints' image positions. So the renderer draws every actor from the very
camera-space joints that are written to the skeleton files, projected with the same
Kinect-like pinhole model (:class:`Pinhole`; Kinect v2's 1920x1080 colour camera for the NTU
and PKU-MMD demos, Kinect v1's 640x480 one for N-UCLA), scaled to the image size. Depth
images (N-UCLA) are drawn from the same joints, in millimetres.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw

from mmnet.skeleton.layouts import KINECT_V2_JOINTS

#: Kinect v2 colour and depth image sizes (width, height).
COLOR_SIZE = (1920, 1080)
FPS = 30

# Pinhole fits on the real file S001C001P001R001A001 (colour and depth cameras).
_COLOR_F, _COLOR_C = (1048.0, -1056.4), (976.4, 567.3)
_DEPTH_F, _DEPTH_C = (366.4, -366.5), (256.3, 208.5)

_J = {name: i for i, name in enumerate(KINECT_V2_JOINTS)}
Color = tuple[int, int, int]


def _pinhole(xyz: np.ndarray, f: tuple[float, float], c: tuple[float, float]) -> np.ndarray:
    z = xyz[..., 2]
    return np.stack([f[0] * xyz[..., 0] / z + c[0], f[1] * xyz[..., 1] / z + c[1]], axis=-1)


@dataclass(frozen=True)
class Pinhole:
    """A colour camera: focal lengths ``f`` and principal point ``c`` (pixels) of ``size``
    images; image y grows downwards, hence a negative ``f[1]``."""

    f: tuple[float, float]
    c: tuple[float, float]
    size: tuple[int, int]

    def project(self, xyz: np.ndarray) -> np.ndarray:
        """Camera-space points ``(..., 3)`` (metres) to pixels ``(..., 2)``."""
        return _pinhole(xyz, self.f, self.c)


def project_color(xyz: np.ndarray) -> np.ndarray:
    """Camera-space points ``(..., 3)`` (metres) to 1920x1080 colour pixels ``(..., 2)``."""
    return _pinhole(xyz, _COLOR_F, _COLOR_C)


def project_depth(xyz: np.ndarray) -> np.ndarray:
    """Camera-space points ``(..., 3)`` (metres) to 512x424 depth pixels ``(..., 2)``."""
    return _pinhole(xyz, _DEPTH_F, _DEPTH_C)


#: Kinect v2's colour camera (NTU, PKU-MMD).
KINECT_V2_COLOR = Pinhole(_COLOR_F, _COLOR_C, COLOR_SIZE)
#: Kinect v1's colour camera (N-UCLA): its nominal 525 px focal length, centred.
KINECT_V1_COLOR = Pinhole((525.0, -525.0), (319.5, 239.5), (640, 480))


@dataclass(frozen=True)
class Appearance:
    """Colours of one performer; they differ per subject so subjects look different."""

    skin: Color
    hair: Color
    shirt: Color
    trousers: Color
    shoes: Color
    long_sleeves: bool


@dataclass(frozen=True, eq=False)
class Prop:
    """A hand-held object drawn as a rotated rectangle.

    Attributes:
        center: (T, 3) camera-space centre.
        axis: (T, 3) camera-space unit vector along the long side.
        width, length: size in metres.
        color: fill colour; ``rim`` is drawn at the ``+axis`` end (cup rim, phone screen).
        visible: (T,) bool, the frames it is drawn in (None: all).
    """

    center: np.ndarray
    axis: np.ndarray
    width: float
    length: float
    color: Color
    rim: Color
    visible: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class Actor:
    """One visible person: (T, 25, 3) camera-space joints, colours and held props."""

    joints: np.ndarray
    appearance: Appearance
    props: tuple[Prop, ...] = ()


# (joint a, joint b, width in metres, colour key); drawn back to front by depth.
_LIMBS = (
    ("HipLeft", "KneeLeft", 0.14, "trousers"),
    ("KneeLeft", "AnkleLeft", 0.11, "trousers"),
    ("AnkleLeft", "FootLeft", 0.08, "shoes"),
    ("HipRight", "KneeRight", 0.14, "trousers"),
    ("KneeRight", "AnkleRight", 0.11, "trousers"),
    ("AnkleRight", "FootRight", 0.08, "shoes"),
    ("ShoulderLeft", "ElbowLeft", 0.095, "shirt"),
    ("ElbowLeft", "WristLeft", 0.075, "sleeve"),
    ("WristLeft", "HandTipLeft", 0.06, "skin"),
    ("HandLeft", "ThumbLeft", 0.03, "skin"),
    ("ShoulderRight", "ElbowRight", 0.095, "shirt"),
    ("ElbowRight", "WristRight", 0.075, "sleeve"),
    ("WristRight", "HandTipRight", 0.06, "skin"),
    ("HandRight", "ThumbRight", 0.03, "skin"),
)
_LIMB_IDX = np.array([(_J[a], _J[b]) for a, b, _, _ in _LIMBS])
_HEAD_RADIUS = 0.105
_HAND_RADIUS = 0.045
# MPEG-4 quantiser: ~36-37 dB PSNR at ~0.6 KB per frame at 480x270.
_QUANTISER = 7


def background(
    seed: int, setup: int, camera: int, size: tuple[int, int], floor_row: float
) -> np.ndarray:
    """The static scene behind the actors, ``(H, W, 3)`` uint8, one per (setup, camera).

    ``floor_row`` is the image row where the floor meets the back wall. Wall and floor are
    lightly textured (seams, planks, low-frequency noise) so that crops of empty background
    are not uniform, but smooth enough to compress well.
    """
    w, h = size
    rng = np.random.default_rng([seed, 901, setup, camera])
    # cool walls, so that skin of every tone stands out from them
    walls = np.array([(115, 145, 185), (105, 155, 160), (140, 140, 182), (125, 160, 190)], float)
    floors = np.array([(120, 100, 82), (100, 104, 110), (132, 112, 90)], float)
    wall = walls[rng.integers(len(walls))] + rng.uniform(-8, 8, 3)
    floor = floors[rng.integers(len(floors))] + rng.uniform(-8, 8, 3)
    horizon = int(np.clip(round(floor_row), 4, h - 4))

    y = np.arange(h, dtype=float)[:, None, None]
    img = np.empty((h, w, 3), float)
    img[:horizon] = wall * (0.93 + 0.07 * y[:horizon] / horizon)
    img[horizon:] = floor * (0.9 + 0.15 * (y[horizon:] - horizon) / max(1, h - horizon))

    # Wall panel seams and floor planks (spacing grows towards the camera: perspective).
    period = w / rng.uniform(4.5, 7.5)
    offset = rng.uniform(0, period)
    for x0 in np.arange(offset, w, period).astype(int):
        img[:horizon, x0 : x0 + 2] *= 0.9
    row, step = float(horizon + 3), 3.0
    while row < h:
        img[int(row)] *= 0.88
        step *= 1.45
        row += step
    img[max(0, horizon - 3) : horizon] *= 0.75  # skirting board

    # Low-frequency noise: a coarse random grid, bilinearly upsampled.
    cell = 12
    gh, gw = h // cell + 2, w // cell + 2
    grid = rng.normal(0.0, 4.0, (gh, gw))
    gy = np.arange(h) / cell
    gx = np.arange(w) / cell
    iy, ix = gy.astype(int), gx.astype(int)
    fy, fx = (gy - iy)[:, None], (gx - ix)[None, :]
    noise = (
        grid[iy][:, ix] * (1 - fy) * (1 - fx)
        + grid[iy + 1][:, ix] * fy * (1 - fx)
        + grid[iy][:, ix + 1] * (1 - fy) * fx
        + grid[iy + 1][:, ix + 1] * fy * fx
    )
    img += noise[..., None]
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _round_line(
    draw: ImageDraw.ImageDraw, p: np.ndarray, q: np.ndarray, width: float, color: Color
) -> None:
    """A thick line with round caps (PIL's own caps are square)."""
    r = width / 2
    draw.line((p[0], p[1], q[0], q[1]), fill=color, width=max(1, round(width)))
    for c in (p, q):
        draw.ellipse((c[0] - r, c[1] - r, c[0] + r, c[1] + r), fill=color)


def _polygon(draw: ImageDraw.ImageDraw, points: list[tuple[float, float]], fill: int) -> None:
    draw.polygon(points, fill=fill)


class _FrameItems:
    """Everything one actor contributes to one frame, as (depth, draw callback) pairs."""

    def __init__(self, actor: Actor, scale: tuple[float, float], camera: Pinhole) -> None:
        self.actor = actor
        self.camera = camera
        a = actor.appearance
        self.colors = {
            "trousers": a.trousers,
            "shoes": a.shoes,
            "shirt": a.shirt,
            "sleeve": a.shirt if a.long_sleeves else a.skin,
            "skin": a.skin,
        }
        self.scale = np.asarray(scale)
        self.pix = camera.project(actor.joints) * self.scale  # (T, 25, 2) video pixels
        # pixels per metre at depth z (the colour camera's focal length, scaled)
        self.ppm = camera.f[0] * self.scale[0] / actor.joints[..., 2]  # (T, 25)
        self.prop_pix = [
            (
                camera.project(p.center) * self.scale,
                camera.project(p.center + p.axis * (p.length / 2)) * self.scale,
                camera.f[0] * self.scale[0] / p.center[:, 2],
            )
            for p in actor.props
        ]

    def items(self, t: int) -> list[tuple[float, int, object]]:
        joints, pix, ppm, colors = self.actor.joints[t], self.pix[t], self.ppm[t], self.colors
        out: list[tuple[float, int, object]] = []
        depth = joints[:, 2]
        for k, (ia, ib) in enumerate(_LIMB_IDX):
            width_m, key = _LIMBS[k][2], _LIMBS[k][3]
            out.append(
                (
                    (depth[ia] + depth[ib]) / 2,
                    0,
                    (_round_line, pix[ia], pix[ib], width_m * (ppm[ia] + ppm[ib]) / 2, colors[key]),
                )
            )
        for hand in ("HandLeft", "HandRight"):
            j = _J[hand]
            out.append(
                (depth[j] - 0.01, 1, (self._disc, pix[j], _HAND_RADIUS * ppm[j], colors["skin"]))
            )
        torso = [_J[n] for n in ("ShoulderLeft", "ShoulderRight", "HipLeft", "HipRight")]
        out.append((float(depth[torso].mean()), 0, (self._torso, t)))
        head = _J["Head"]
        neck = (pix[_J["Neck"]], pix[_J["SpineShoulder"]], 0.09 * ppm[_J["Neck"]])
        out.append((depth[head], 0, (self._head, pix[head], _HEAD_RADIUS * ppm[head], neck)))
        for prop, (c, tip, p_ppm) in zip(self.actor.props, self.prop_pix, strict=True):
            if prop.visible is not None and not prop.visible[t]:
                continue
            out.append((prop.center[t, 2] - 0.05, 2, (self._prop, prop, c[t], tip[t], p_ppm[t])))
        return out

    @staticmethod
    def _disc(draw: ImageDraw.ImageDraw, c: np.ndarray, r: float, color: Color) -> None:
        draw.ellipse((c[0] - r, c[1] - r, c[0] + r, c[1] + r), fill=color)

    def _head(
        self,
        draw: ImageDraw.ImageDraw,
        c: np.ndarray,
        r: float,
        neck: tuple[np.ndarray, np.ndarray, float],
    ) -> None:
        a = self.actor.appearance
        _round_line(draw, *neck, a.skin)
        bbox = (c[0] - r, c[1] - r, c[0] + r, c[1] + r)
        draw.ellipse(bbox, fill=a.skin)
        draw.chord(bbox, 195, 345, fill=a.hair)

    def silhouette(self, t: int) -> list[tuple[float, object, tuple]]:
        """Body parts of frame ``t`` for a depth image, as (depth in metres, draw function,
        its arguments but the fill): limbs, torso, head and hands."""
        joints, pix, ppm = self.actor.joints[t], self.pix[t], self.ppm[t]
        depth = joints[:, 2]
        out: list[tuple[float, object, tuple]] = [
            (
                (depth[a] + depth[b]) / 2,
                _round_line,
                (pix[a], pix[b], _LIMBS[k][2] * (ppm[a] + ppm[b]) / 2),
            )
            for k, (a, b) in enumerate(_LIMB_IDX)
        ]
        for name, radius in (
            ("Head", _HEAD_RADIUS),
            ("HandLeft", _HAND_RADIUS),
            ("HandRight", _HAND_RADIUS),
        ):
            j = _J[name]
            out.append((depth[j], self._disc, (pix[j], radius * ppm[j])))
        torso = [_J[n] for n in ("ShoulderLeft", "ShoulderRight", "HipLeft", "HipRight")]
        out.append((float(depth[torso].mean()), _polygon, (self._torso_outline(t),)))
        return out

    def _torso_outline(self, t: int) -> list[tuple[float, float]]:
        """Corners of the shirt: shoulders and hips, widened."""
        j = self.actor.joints[t]
        sl, sr = j[_J["ShoulderLeft"]], j[_J["ShoulderRight"]]
        hl, hr = j[_J["HipLeft"]], j[_J["HipRight"]]
        ss, sb = j[_J["SpineShoulder"]], j[_J["SpineBase"]]
        waist = 0.25 * (ss - sb)
        pts3 = np.stack(
            [
                sl + 0.3 * (sl - sr),
                sr + 0.3 * (sr - sl),
                hr + 0.6 * (hr - hl) + waist * 0.2,
                hl + 0.6 * (hl - hr) + waist * 0.2,
            ]
        )
        return [tuple(p) for p in self.camera.project(pts3) * self.scale]

    def _torso(self, draw: ImageDraw.ImageDraw, t: int) -> None:
        pts = self._torso_outline(t)
        ppm = float(self.ppm[t, _J["SpineMid"]])
        colors = self.colors
        _round_line(
            draw,
            self.pix[t, _J["HipLeft"]],
            self.pix[t, _J["HipRight"]],
            0.13 * ppm,
            colors["trousers"],
        )
        _round_line(
            draw,
            self.pix[t, _J["SpineBase"]] * 0.8 + self.pix[t, _J["SpineShoulder"]] * 0.2,
            self.pix[t, _J["SpineShoulder"]],
            0.2 * ppm,
            colors["shirt"],
        )
        draw.polygon(pts, fill=colors["shirt"])

    @staticmethod
    def _prop(
        draw: ImageDraw.ImageDraw, prop: Prop, c: np.ndarray, tip: np.ndarray, ppm: float
    ) -> None:
        along = tip - c
        n = float(np.hypot(*along))
        if n < 1e-6:
            along, n = np.array([0.0, -1.0]), 1.0
        u = along / n * (prop.length / 2 * ppm)
        v = np.array([-along[1], along[0]]) / n * (prop.width / 2 * ppm)
        corners = [c + u + v, c - u + v, c - u - v, c + u - v]
        draw.polygon([tuple(p) for p in corners], fill=prop.color)
        rim = [c + u + v, c + 0.75 * u + v, c + 0.75 * u - v, c + u - v]
        draw.polygon([tuple(p) for p in rim], fill=prop.rim)


def render_frames(
    actors: Iterable[Actor], bg: np.ndarray, n_frames: int, camera: Pinhole = KINECT_V2_COLOR
) -> Iterator[Image.Image]:
    """Yield the video frames: background plus every actor, painted far to near."""
    h, w = bg.shape[:2]
    scale = (w / camera.size[0], h / camera.size[1])
    per_actor = [_FrameItems(a, scale, camera) for a in actors]
    base = Image.fromarray(bg)
    for t in range(n_frames):
        img = base.copy()
        draw = ImageDraw.Draw(img)
        items: list[tuple[float, int, int, object]] = []
        for k, fi in enumerate(per_actor):
            items.extend((d, order, k, call) for d, order, call in fi.items(t))
        # far first; at equal depth limbs before hands before props
        items.sort(key=lambda it: (-it[0], it[1]))
        for *_, call in items:
            fn, *args = call  # type: ignore[misc]
            fn(draw, *args)
        yield img


def render_depth(
    actors: Iterable[Actor], background_mm: np.ndarray, n_frames: int, camera: Pinhole
) -> Iterator[np.ndarray]:
    """Yield depth images ``(H, W)`` uint16 in millimetres (0: no reading), the size of
    ``background_mm``: each body part at its joints' depth, nearer parts over farther."""
    h, w = background_mm.shape
    scale = (w / camera.size[0], h / camera.size[1])
    per_actor = [_FrameItems(a, scale, camera) for a in actors]
    base = Image.fromarray(background_mm.astype(np.int32))
    for t in range(n_frames):
        img = base.copy()
        draw = ImageDraw.Draw(img)
        parts = [part for fi in per_actor for part in fi.silhouette(t)]
        parts.sort(key=lambda part: -part[0])
        for depth, fn, args in parts:
            fn(draw, *args, round(depth * 1000))  # type: ignore[operator]
        yield np.asarray(img).astype(np.uint16)


def write_video(
    path: Path, frames: Iterable[Image.Image], size: tuple[int, int], fps: int = FPS
) -> int:
    """Encode frames as MPEG-4 part 2 in AVI (like NTU's FMP4/XVID files); returns the count.

    Single-threaded, fixed quantiser (``qmin = qmax``: PyAV leaves the rate control on
    otherwise) and bit-exact flags, so the same frames always give the same bytes.
    """
    n = 0
    with av.open(str(path), mode="w", format="avi", options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        cc = stream.codec_context
        cc.thread_count = 1
        cc.gop_size = 2 * fps
        cc.flags |= av.codec.context.Flags.bitexact
        cc.qmin = cc.qmax = _QUANTISER
        for img in frames:
            frame = av.VideoFrame.from_image(img)
            for packet in stream.encode(frame):
                container.mux(packet)
            n += 1
        for packet in stream.encode():
            container.mux(packet)
    return n
