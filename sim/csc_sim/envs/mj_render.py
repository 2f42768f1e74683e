"""Offscreen frames of a MuJoCo model (car-nav, the robosuite Panda tasks), for `csc eval --render`.

MuJoCo picks its OpenGL backend when it is first imported, from `MUJOCO_GL`: `osmesa` (software, any
machine with libosmesa6; what `csc eval --render` sets for the servers it spawns) or `egl` (a GPU).
Without one of them there is no offscreen context on a headless machine, and rendering fails with a
`RenderUnavailableError` that says so. Rendering reads the simulation state; it never changes it.
"""
from __future__ import annotations

import os

import mujoco
import numpy as np

from .base import RenderUnavailableError

HEADLESS_BACKENDS = ("osmesa", "egl")


class MjFrames:
    """Renders RGB frames of `model`/`data` from one camera; one GL context per frame size, kept."""

    def __init__(self, env_id: str, model: mujoco.MjModel, data: mujoco.MjData, camera: str | mujoco.MjvCamera) -> None:
        self._env_id = env_id
        self._model = model
        self._data = data
        self._camera = camera
        self._renderers: dict[tuple[int, int], mujoco.Renderer] = {}

    def render(self, width_px: int, height_px: int) -> np.ndarray:
        """`(height_px, width_px, 3)` uint8 RGB of the current state."""
        key = (width_px, height_px)
        r = self._renderers.get(key)
        if r is None:
            backend = os.environ.get("MUJOCO_GL", "")
            if backend not in HEADLESS_BACKENDS:
                raise RenderUnavailableError(
                    f"{self._env_id}: MuJoCo offscreen rendering needs MUJOCO_GL=osmesa or egl in the server's "
                    f"environment before MuJoCo is imported, got MUJOCO_GL={backend!r} "
                    "(csc eval --render sets osmesa; scripts/setup-sim.sh installs libosmesa6)"
                )
            vis = self._model.vis.global_
            # the offscreen buffer must hold the frame; a visual setting, not physics
            vis.offwidth = max(vis.offwidth, width_px)
            vis.offheight = max(vis.offheight, height_px)
            try:
                r = mujoco.Renderer(self._model, height_px, width_px)
            except Exception as e:
                raise RenderUnavailableError(
                    f"{self._env_id}: cannot open a MuJoCo offscreen context with MUJOCO_GL={backend} "
                    f"({type(e).__name__}: {e})"
                ) from None
            self._renderers[key] = r
        r.update_scene(self._data, camera=self._camera)
        return np.ascontiguousarray(r.render(), dtype=np.uint8)

    def close(self) -> None:
        for r in self._renderers.values():
            r.close()
        self._renderers.clear()


def free_camera(lookat: tuple[float, float, float], distance_m: float, azimuth_deg: float, elevation_deg: float) -> mujoco.MjvCamera:
    """A free camera looking at `lookat` (world frame) from `distance_m` away."""
    cam = mujoco.MjvCamera()
    cam.type = mujoco.mjtCamera.mjCAMERA_FREE
    cam.lookat[:] = lookat
    cam.distance = distance_m
    cam.azimuth = azimuth_deg
    cam.elevation = elevation_deg
    return cam
