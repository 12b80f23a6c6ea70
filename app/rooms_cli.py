"""``strata rooms OUT.png [--resolution R] [--seed S] [--rows N]``: save a grid of procedural rooms."""

from __future__ import annotations

import argparse


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="strata rooms", description="Save a grid of procedural rooms (the demo world).")
    p.add_argument("out", help="PNG file to write")
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--rows", type=int, default=4, help="the grid is rows x rows images")
    args = p.parse_args(argv)
    if not 1 <= args.rows <= 32:
        p.error(f"--rows {args.rows}: the grid takes 1 to 32 rows")
    if not 8 <= args.resolution <= 512:
        p.error(f"--resolution {args.resolution}: 8 to 512 pixels")
    if not 0 <= args.seed < 2**32:
        p.error(f"--seed {args.seed}: 0 to {2**32 - 1}")

    import io

    from PIL import Image

    from strata.engine.core.atomic import atomic_write_bytes
    from strata.engine.core.render import to_uint8
    from strata.engine.rooms.render import sample_rooms

    r, k = args.resolution, args.rows
    images, _ = sample_rooms(k * k, seed=args.seed, resolution=r)
    grid = to_uint8(images).reshape(k, k, r, r, 3).transpose(0, 2, 1, 3, 4).reshape(k * r, k * r, 3)
    buf = io.BytesIO()
    Image.fromarray(grid).save(buf, format="PNG", optimize=True)
    atomic_write_bytes(args.out, buf.getvalue())
    print(f"wrote {args.out}: {k}x{k} rooms at {r}x{r}, seed {args.seed}")
    return 0
