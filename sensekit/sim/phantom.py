"""Numerical phantoms with known ground truth."""
from __future__ import annotations

import math

import torch


def _ellipse(yy, xx, cy, cx, ry, rx, angle=0.0):
    c, s = math.cos(angle), math.sin(angle)
    u = (xx - cx) * c + (yy - cy) * s
    v = -(xx - cx) * s + (yy - cy) * c
    return (u / rx) ** 2 + (v / ry) ** 2 <= 1.0


def _smooth_edges(img: torch.Tensor, sigma: float = 0.6) -> torch.Tensor:
    """Light Gaussian blur (anti-aliasing of the ellipse edges)."""
    r = max(1, int(3 * sigma))
    k = torch.arange(-r, r + 1, dtype=img.dtype)
    w = torch.exp(-0.5 * (k / sigma) ** 2)
    w = w / w.sum()
    x = img.reshape(-1, 1, *img.shape[-2:])
    x = torch.nn.functional.conv2d(torch.nn.functional.pad(x, (0, 0, r, r), mode="reflect"), w.view(1, 1, -1, 1))
    x = torch.nn.functional.conv2d(torch.nn.functional.pad(x, (r, r, 0, 0), mode="reflect"), w.view(1, 1, 1, -1))
    return x.reshape(img.shape)


def dynamic_phantom(n: int = 128, frames: int = 20, *, cycles: float = 1.0, phase: bool = True,
                    generator: torch.Generator | None = None, dtype=torch.complex64) -> torch.Tensor:
    """A cardiac-like dynamic phantom: a torso with a beating heart and a breathing liver.

    The heart (myocardium ring around a bright blood pool) contracts and
    relaxes ``cycles`` times over the series; the liver dome moves slowly;
    static organs and a smooth texture make the background realistic; a
    smooth random phase (``phase=True``) makes the image complex.

    Returns
    -------
    Tensor, shape (frames, n, n), complex, magnitude in [0, 1]
    """
    g = generator
    rd = torch.float64
    y = torch.linspace(-1, 1, n, dtype=rd)
    yy, xx = torch.meshgrid(y, y, indexing="ij")

    def rnd(scale=1.0):
        return float((torch.rand((), generator=g, dtype=rd) - 0.5) * 2 * scale)

    jitter = [rnd(0.03) for _ in range(8)]
    texture = torch.zeros(n, n, dtype=rd)
    for _ in range(6):  # smooth low-frequency texture
        fy, fx, ph = rnd(3.0), rnd(3.0), rnd(math.pi)
        texture += 0.03 * torch.cos(math.pi * (fy * yy + fx * xx) + ph)
    out = torch.zeros(frames, n, n, dtype=rd)
    for t in range(frames):
        beat = 0.5 * (1 - math.cos(2 * math.pi * cycles * t / frames))      # 0 = diastole, 1 = systole
        breath = 0.04 * math.sin(2 * math.pi * t / max(frames, 1) * 0.5)
        img = torch.zeros(n, n, dtype=rd)
        body = _ellipse(yy, xx, 0.0, 0.0, 0.78, 0.92)
        img[body] = 0.35
        img += body * texture
        lungs_l = _ellipse(yy, xx, -0.12 + jitter[0], -0.45, 0.45, 0.26, 0.15)
        lungs_r = _ellipse(yy, xx, -0.12 + jitter[1], 0.45, 0.45, 0.26, -0.15)
        img[lungs_l | lungs_r] = 0.05
        liver = _ellipse(yy, xx, 0.55 + breath, 0.25, 0.25, 0.45)
        img[liver & body] = 0.45
        spine = _ellipse(yy, xx, 0.62 + jitter[2], 0.0, 0.1, 0.1)
        img[spine] = 0.7
        # heart: myocardium ring and blood pool, radii change with the beat
        cy, cx = -0.05 + jitter[3], 0.08 + jitter[4]
        r_epi = 0.27 - 0.03 * beat
        r_endo = 0.17 - 0.06 * beat
        epi = _ellipse(yy, xx, cy, cx, r_epi, r_epi * 1.1, 0.4)
        endo = _ellipse(yy, xx, cy, cx, r_endo, r_endo * 1.15, 0.4)
        img[epi] = 0.55
        img[endo] = 0.95
        rv = _ellipse(yy, xx, cy + 0.02, cx - 0.28 + 0.02 * beat, 0.16 - 0.03 * beat, 0.09, 0.3) & ~epi
        img[rv] = 0.85
        aorta = _ellipse(yy, xx, cy - 0.3, cx + 0.12, 0.06 + 0.01 * beat, 0.06 + 0.01 * beat)
        img[aorta] = 0.9
        out[t] = img
    out = _smooth_edges(out)
    out = torch.clamp(out, 0, 1)
    if phase:
        a, b, c = rnd(1.0), rnd(1.0), rnd(0.5)
        ph = math.pi * (0.4 * a * yy + 0.4 * b * xx + c * (xx ** 2 + yy ** 2))
        out = out * torch.exp(1j * ph)
    return out.to(dtype)
