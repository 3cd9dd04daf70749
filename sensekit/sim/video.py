"""Synthetic surveillance-style video with known foreground masks (CDnet coding).

A scene is a slowly varying, nearly low-rank background (a smooth random image times a global
illumination drift, optionally a "waving leaves" patch of dynamic texture) with moving foreground
objects of various sizes and speeds, additive noise and optional camera jitter.  Frames are rendered
on demand for any range of time indices, so arbitrarily long videos can be produced block by block.
"""
from __future__ import annotations

import dataclasses
import math

import torch

from ..core.random import make_generator

#: CDnet ground-truth codes
BACKGROUND, SHADOW, OUTSIDE_ROI, UNKNOWN, FOREGROUND = 0, 50, 85, 170, 255


def _rand(gen, *shape):
    return torch.rand(shape, generator=gen, dtype=torch.float64)


@dataclasses.dataclass(frozen=True)
class VideoScene:
    """A synthetic scene; draw one with :func:`video_scene`, render frames with :meth:`render`."""

    shape: tuple               # (H, W)
    colour: bool
    background: torch.Tensor   # (C, H, W) float64 in [0, 1]
    texture: torch.Tensor      # (C, H, W) dynamic-texture pattern (zeros when disabled)
    texture_mask: torch.Tensor  # (H, W) float64 weight of the dynamic-texture patch
    texture_amp: float
    drift: float               # relative amplitude of the global illumination drift
    drift_period: float        # frames
    drift_phase: float
    objects: torch.Tensor      # (K, 7): y0, x0, vy, vx, ry, rx, start frame
    colours: torch.Tensor      # (K, C)
    noise: float
    jitter: float
    border: bool
    roi_margin: int

    @property
    def channels(self) -> int:
        return 3 if self.colour else 1

    def _positions(self, t: torch.Tensor):
        """Object centres (T, K) with reflection at the frame borders."""
        H, W = self.shape
        o = self.objects

        def reflect(p0, v, lo, hi):
            span = max(hi - lo, 1e-9)
            q = torch.remainder(p0[None] + v[None] * t[:, None] - lo, 2 * span)
            return lo + torch.where(q > span, 2 * span - q, q)

        y = reflect(o[:, 0], o[:, 2], 0.0, H - 1.0)
        x = reflect(o[:, 1], o[:, 3], 0.0, W - 1.0)
        return y, x

    def render(self, start: int, stop: int, *, generator: torch.Generator | None = None,
               dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames ``start .. stop-1``: ``(frames, gt_masks)``.

        Returns
        -------
        frames : Tensor, (T, H, W) or (T, H, W, 3), ``dtype``, values in [0, 1]
        gt_masks : Tensor, (T, H, W) uint8, CDnet coding (0, 85, 170, 255)
        """
        if not 0 <= start <= stop:
            raise ValueError(f"render: need 0 <= start <= stop, got {start}, {stop}")
        gen = generator if generator is not None else make_generator(start)
        H, W = self.shape
        T = stop - start
        t = torch.arange(start, stop, dtype=torch.float64)
        gain = 1 + self.drift * torch.sin(2 * math.pi * t / self.drift_period + self.drift_phase)
        bg = self.background[None] * gain[:, None, None, None]                       # (T, C, H, W)
        if self.texture_amp > 0:
            shift = 3.0 * torch.sin(2 * math.pi * t / 23.0) + 1.5 * torch.sin(2 * math.pi * t / 7.3)
            xs = torch.arange(W, dtype=torch.float64)
            tex = []
            for s in shift.tolist():               # sub-pixel horizontal sway of the texture (linear interp.)
                x = torch.remainder(xs - s, W)
                x0 = x.floor().long()
                f = x - x0
                tex.append(self.texture[..., x0] * (1 - f) + self.texture[..., (x0 + 1) % W] * f)
            bg = bg + self.texture_amp * torch.stack(tex) * self.texture_mask
        yy = torch.arange(H, dtype=torch.float64)[:, None]
        xx = torch.arange(W, dtype=torch.float64)[None, :]
        y, x = self._positions(t)
        img = bg
        inside = torch.zeros(T, H, W, dtype=torch.bool)
        ring = torch.zeros(T, H, W, dtype=torch.bool)
        for k in range(self.objects.shape[0]):
            ry, rx, t0 = self.objects[k, 4], self.objects[k, 5], self.objects[k, 6]
            d = ((yy[None] - y[:, k, None, None]) / ry) ** 2 + ((xx[None] - x[:, k, None, None]) / rx) ** 2
            present = (t >= t0)[:, None, None]
            m = (d <= 1) & present
            w = 0.75 / float(min(ry, rx))                                             # ± 0.75 px
            edge = (d <= (1 + w) ** 2) & (d > (1 - w) ** 2) & present
            shade = 0.85 + 0.15 * torch.cos(3 * d)                                    # mild shading on the object
            img = torch.where(m[:, None], self.colours[k][None, :, None, None] * shade[:, None], img)
            inside |= m
            ring |= edge
        if self.noise > 0:
            img = img + self.noise * torch.randn(img.shape, generator=gen, dtype=torch.float64)
        gt = torch.where(inside, FOREGROUND, BACKGROUND).to(torch.uint8)
        if self.border:
            gt = torch.where(ring, torch.tensor(UNKNOWN, dtype=torch.uint8), gt)
        if self.jitter > 0:
            j = int(math.ceil(self.jitter))
            sh = torch.randint(-j, j + 1, (T, 2), generator=gen)
            img = torch.stack([torch.roll(img[i], (int(a), int(b)), dims=(-2, -1)) for i, (a, b) in enumerate(sh)])
            gt = torch.stack([torch.roll(gt[i], (int(a), int(b)), dims=(-2, -1)) for i, (a, b) in enumerate(sh)])
        if self.roi_margin > 0:
            r = self.roi_margin
            out = torch.ones(H, W, dtype=torch.bool)
            out[r:H - r, r:W - r] = False
            gt = torch.where(out[None], torch.tensor(OUTSIDE_ROI, dtype=torch.uint8), gt)
        img = img.clamp(0, 1)
        frames = img.permute(0, 2, 3, 1) if self.colour else img[:, 0]
        return frames.to(dtype).contiguous(), gt.contiguous()


def video_scene(shape=(60, 80), *, objects: int = 3, sizes=(0.08, 0.25), speeds=(0.5, 2.0), noise: float = 0.01,
                drift: float = 0.1, texture: float = 0.0, jitter: float = 0.0, colour: bool = False,
                border: bool = True, roi_margin: int = 0, enter: int = 0,
                generator: torch.Generator | None = None) -> VideoScene:
    """Draw a random synthetic scene (background, dynamic texture, objects).

    Parameters
    ----------
    shape : (H, W)
    objects : int
        Number of moving foreground objects (ellipses of random colour and shading).
    sizes : (float, float)
        Range of the objects' semi-axes as fractions of ``min(H, W)``.
    speeds : (float, float)
        Range of the objects' speeds in pixels per frame (random directions; they
        bounce off the frame borders).
    noise : float
        Standard deviation of the additive white Gaussian noise (intensities in [0, 1]).
    drift : float
        Relative amplitude of a slow global illumination change (one period is
        250–600 frames).
    texture : float
        Amplitude of a "waving leaves" patch: a textured region in one corner that
        sways horizontally (background in the ground truth); 0 disables it.
    jitter : float
        Camera jitter: each frame is shifted by a random integer offset in
        ``[−ceil(jitter), ceil(jitter)]`` pixels (0: a fixed camera).
    colour : bool
        RGB frames (per-channel background, coloured objects) instead of grey.
    border : bool
        Mark a thin ring at each object's border as 170 (unknown, not scored).
    roi_margin : int
        Mark a frame border of this many pixels as 85 (outside the region of interest).
    enter : int
        The objects enter at random times in ``[0, enter]`` (0: all present from frame 0).
    generator : torch.Generator, optional

    Returns
    -------
    VideoScene
    """
    H, W = (int(shape[0]), int(shape[1]))
    if H < 8 or W < 8:
        raise ValueError(f"video_scene: frames of at least 8 × 8 pixels, got {H} × {W}")
    if objects < 0 or not 0 < sizes[0] <= sizes[1] or not 0 <= speeds[0] <= speeds[1]:
        raise ValueError("video_scene: need objects >= 0, 0 < sizes[0] <= sizes[1], 0 <= speeds[0] <= speeds[1]")
    gen = generator if generator is not None else make_generator(0)
    C = 3 if colour else 1
    yy = torch.linspace(0, 1, H, dtype=torch.float64)[:, None]
    xx = torch.linspace(0, 1, W, dtype=torch.float64)[None, :]
    bgs = []
    base = None
    for c in range(C):
        f = torch.zeros(H, W, dtype=torch.float64)
        for _ in range(6):                                  # smooth random field: low-frequency cosines
            ky, kx, ph = 1 + 4 * _rand(gen, 1), 1 + 4 * _rand(gen, 1), 2 * math.pi * _rand(gen, 1)
            f = f + torch.cos(math.pi * (ky * yy + kx * xx) + ph) / 6
        f = 0.5 + 0.35 * f / max(float(f.abs().max()), 1e-9)
        base = f if base is None else base
        bgs.append(0.7 * base + 0.3 * f if c else f)        # correlated channels
    background = torch.stack(bgs).clamp(0.05, 0.95)
    tex = torch.zeros(C, H, W, dtype=torch.float64)
    tmask = torch.zeros(H, W, dtype=torch.float64)
    if texture > 0:
        g = torch.randn(C, H, W, generator=gen, dtype=torch.float64)
        k = torch.tensor([0.25, 0.5, 0.25], dtype=torch.float64)
        for _ in range(2):                                  # leafy texture: smoothed noise
            g = torch.nn.functional.conv1d(g.reshape(-1, 1, W), k.view(1, 1, 3), padding=1).reshape(C, H, W)
            g = torch.nn.functional.conv1d(g.transpose(1, 2).reshape(-1, 1, H), k.view(1, 1, 3),
                                           padding=1).reshape(C, W, H).transpose(1, 2)
        tex = g / max(float(g.abs().max()), 1e-9)
        cy, cx = 0.25 * H, 0.8 * W
        d = ((torch.arange(H, dtype=torch.float64)[:, None] - cy) / (0.25 * H)) ** 2 + \
            ((torch.arange(W, dtype=torch.float64)[None, :] - cx) / (0.2 * W)) ** 2
        tmask = torch.clamp(1.5 - d, 0, 1)
    m = min(H, W)
    rows = []
    for _ in range(objects):
        ry = m * (sizes[0] + (sizes[1] - sizes[0]) * float(_rand(gen, 1)))
        rx = ry * (0.6 + 0.8 * float(_rand(gen, 1)))
        sp = speeds[0] + (speeds[1] - speeds[0]) * float(_rand(gen, 1))
        ang = 2 * math.pi * float(_rand(gen, 1))
        t0 = float(torch.randint(0, enter + 1, (1,), generator=gen)) if enter > 0 else 0.0
        rows.append([float(_rand(gen, 1)) * (H - 1), float(_rand(gen, 1)) * (W - 1), sp * math.sin(ang),
                     sp * math.cos(ang), ry, rx, t0])
    objs = torch.tensor(rows, dtype=torch.float64).reshape(-1, 7)
    cols = []
    for _ in range(objects):                                # contrast with the scene's mean brightness
        lvl = float(_rand(gen, 1))
        v = 0.05 + 0.2 * lvl if float(background.mean()) > 0.5 else 0.8 + 0.15 * lvl
        cols.append((v + 0.1 * (_rand(gen, C) - 0.5)).clamp(0, 1))
    colours = torch.stack(cols) if cols else torch.zeros(0, C, dtype=torch.float64)
    period = 250 + 350 * float(_rand(gen, 1))
    return VideoScene(shape=(H, W), colour=bool(colour), background=background, texture=tex, texture_mask=tmask,
                      texture_amp=float(texture), drift=float(drift), drift_period=period,
                      drift_phase=2 * math.pi * float(_rand(gen, 1)), objects=objs, colours=colours,
                      noise=float(noise), jitter=float(jitter), border=bool(border), roi_margin=int(roi_margin))


def video_sequence(frames: int = 100, shape=(60, 80), *, generator: torch.Generator | None = None,
                   dtype=torch.float32, **scene_options) -> tuple[torch.Tensor, torch.Tensor]:
    """A synthetic video with known foreground masks.

    Parameters
    ----------
    frames : int
        Number of frames T.
    shape : (H, W)
    generator : torch.Generator, optional
        Seeds the scene and the noise.
    dtype : torch.dtype
        Of the frames.
    **scene_options
        Passed to :func:`video_scene` (``objects``, ``sizes``, ``speeds``, ``noise``,
        ``drift``, ``texture``, ``jitter``, ``colour``, ``border``, ``roi_margin``, ``enter``).

    Returns
    -------
    frames : Tensor, (T, H, W) or (T, H, W, 3), values in [0, 1]
    gt_masks : Tensor, (T, H, W) uint8 in the CDnet coding: 0 background, 255
        foreground, 170 unknown (object borders), 85 outside the region of interest.

    Examples
    --------
    >>> import torch
    >>> from sensekit.sim import video_sequence
    >>> X, gt = video_sequence(20, (32, 40), generator=torch.Generator().manual_seed(0))
    >>> X.shape, gt.shape, sorted(set(gt.unique().tolist())) <= [0, 170, 255]
    (torch.Size([20, 32, 40]), torch.Size([20, 32, 40]), True)
    """
    if frames < 1:
        raise ValueError(f"video_sequence: frames must be >= 1, got {frames}")
    gen = generator if generator is not None else make_generator(0)
    scene = video_scene(shape, generator=gen, **scene_options)
    return scene.render(0, int(frames), generator=gen, dtype=dtype)
