"""Let PyPI's CUDA build of torchvision import beside a CPU-only torch.

torchvision registers fake kernels for ``torchvision::nms`` / ``qnms`` at import time, even when
its compiled ops (``_C.so``) fail to load, which raises "operator torchvision::nms does not
exist". The Qwen2-VL image processors only need torchvision's pure-Python transforms, so when
the compiled ops are missing we declare the two op schemas before torchvision is imported.
Installed as a ``.pth`` start-up hook by scripts/setup.sh; it costs nothing until something
imports torchvision and does nothing where torchvision's own ops load.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.abc
import importlib.util
import os
import sys

_LIBRARY = None  # keeps the op-schema fragment alive


def _declare_missing_ops() -> None:
    global _LIBRARY
    import torch

    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return
    package_dir = next(iter(spec.submodule_search_locations))
    for compiled in glob.glob(os.path.join(package_dir, "_C*.so")):
        try:
            torch.ops.load_library(compiled)
            return  # the real ops load: nothing to do
        except OSError:
            break
    if hasattr(torch.ops.torchvision, "nms"):
        return
    _LIBRARY = torch.library.Library("torchvision", "FRAGMENT")
    _LIBRARY.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _LIBRARY.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")


class _BeforeTorchvision(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "torchvision":
            return None
        sys.meta_path.remove(self)
        with contextlib.suppress(Exception):  # never block the import itself
            _declare_missing_ops()
        return None


if not any(isinstance(f, _BeforeTorchvision) for f in sys.meta_path):
    sys.meta_path.insert(0, _BeforeTorchvision())
