"""Stand-ins for OpenPose's ``openpose.bin`` and its Python bindings, written by the tests.

The binary honours the command-line contract the ``openpose`` backend relies on: it reads every
image of ``--image_dir`` and writes ``<image stem>_keypoints.json`` into ``--write_json``
in OpenPose's exact JSON format (version, people[].person_id, pose_keypoints_2d and the
other keypoint lists). Only the network is fake: one person whose BODY_25 keypoints sit at
fixed fractions of the image (nose at 50%/20%, wrists and knees around the middle). It
also appends its arguments to ``calls.txt`` beside itself, and to ``disk.txt`` the number
of images it got, then the number of files and bytes held by the folders those images live
in (the frames on disk while OpenPose runs: the pose stage's peak disk use). It fails like the real
binary when an argument is missing. The ``pyopenpose`` module has the bindings' API
(``WrapperPython().configure/start/emplaceAndPop``, ``Datum``, ``VectorDatum``), finds the
same person in every frame that is not black, and records its parameters and inputs.
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
images = sorted(Path(options["--image_dir"]).iterdir())
folders = {{image.resolve().parent for image in images}}
held = [f.stat().st_size for folder in folders for f in folder.rglob("*") if f.is_file()]
disk = f"{{len(images)}} {{len(held)}} {{sum(held)}}\\n"
Path(__file__).with_name("disk.txt").open("a").write(disk)
for image in images:
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


_MODULE = '''"""Stand-in for OpenPose's Python bindings (tests/openpose_stub.py)."""
import numpy as np

POSE = {pose}
CONFIGURED = []  # the params of every WrapperPython.configure call
SEEN = []  # shape and dtype of every input frame


class Datum:
    cvInputData = None
    poseKeypoints = None


class VectorDatum(list):
    pass


class WrapperPython:
    started = False

    def configure(self, params):
        CONFIGURED.append(dict(params))

    def start(self):
        self.started = True

    def emplaceAndPop(self, data):
        assert self.started, "start() before emplaceAndPop()"
        for datum in data:
            image = datum.cvInputData
            SEEN.append((image.shape, str(image.dtype)))
            height, width = image.shape[:2]
            if image.mean() < 1:  # a black frame: nobody (OpenPose leaves poseKeypoints empty)
                datum.poseKeypoints = np.zeros((0,), dtype=np.float32)
                continue
            person = np.zeros((25, 3), dtype=np.float32)
            for k, (x, y) in POSE.items():
                person[k] = (x * width, y * height, 0.9)
            datum.poseKeypoints = person[None]
        return True
'''


def write_fake_pyopenpose(folder: Path) -> Path:
    """Write a ``pyopenpose`` module with the bindings' API into ``folder`` (put it on
    ``sys.path``); same fake person as the binary. Returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyopenpose.py").write_text(_MODULE.format(pose=repr(FAKE_POSE)))
    return folder
