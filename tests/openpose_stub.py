"""A stand-in for OpenPose's ``openpose.bin``, written by the tests that need one.

It honours the command-line contract the ``openpose`` backend relies on: it reads every
image of ``--image_dir`` and writes ``<image stem>_keypoints.json`` into ``--write_json``
in OpenPose's exact JSON format (version, people[].person_id, pose_keypoints_2d and the
other keypoint lists). Only the network is fake: one person whose BODY_25 keypoints sit at
fixed fractions of the image (nose at 50%/20%, wrists and knees around the middle). It
also appends its arguments to ``calls.txt`` beside itself, and fails like the real binary
when an argument is missing.
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

#: Keypoint -> (x, y) as fractions of the image size; others undetected (0, 0, 0).
FAKE_POSE = {0: (0.5, 0.2), 1: (0.5, 0.3), 4: (0.4, 0.45), 7: (0.6, 0.45), 8: (0.5, 0.55),
             10: (0.45, 0.7), 13: (0.55, 0.7)}  # fmt: skip

_SCRIPT = """#!{python}
import json, sys
from pathlib import Path
from PIL import Image

args = sys.argv[1:]
Path(__file__).with_name("calls.txt").open("a").write(" ".join(args) + "\\n")
options = dict(zip(args[::2], args[1::2]))
if "--image_dir" not in options or "--write_json" not in options:
    sys.exit("openpose: --image_dir and --write_json are required")
pose = {pose}
out = Path(options["--write_json"])
for image in sorted(Path(options["--image_dir"]).iterdir()):
    width, height = Image.open(image).size
    flat = []
    for k in range(25):
        x, y = pose.get(k, (0.0, 0.0))
        flat += [x * width, y * height, 0.9 if k in pose else 0.0]
    person = {{"person_id": [-1], "pose_keypoints_2d": flat, "face_keypoints_2d": [],
              "hand_left_keypoints_2d": [], "hand_right_keypoints_2d": [],
              "pose_keypoints_3d": [], "face_keypoints_3d": [],
              "hand_left_keypoints_3d": [], "hand_right_keypoints_3d": []}}
    (out / (image.stem + "_keypoints.json")).write_text(
        json.dumps({{"version": 1.3, "people": [person]}}))
"""


def write_fake_openpose(folder: Path) -> Path:
    """Write the executable into ``folder`` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "openpose.bin"
    path.write_text(_SCRIPT.format(python=sys.executable, pose=repr(FAKE_POSE)))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path
