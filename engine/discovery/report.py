"""The discovery report as people read it: a Markdown table and a heat-map PNG.

Both take the JSON-able report dict that :func:`strata.engine.discovery.hierarchy.write_library`
writes as ``hierarchy.json``, so a report can be re-drawn from its file alone.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["hierarchy_markdown", "hierarchy_image"]


def _fmt(v, digits=3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _with_share(text: str, share) -> str:
    return text if share is None else f"{text} ({share:.2f})"


def _peak(row: Mapping) -> str:
    """The peak layer's ``dS ± 1.96 se``, e.g. ``6: 0.500 ± 0.020``."""
    if row["dS"] is None or row.get("dS_se") is None:
        return "-"
    peak = int(np.argmax(row["dS"]))
    return f"{peak}: {row['dS'][peak]:.3f} ± {1.96 * row['dS_se'][peak]:.3f}"


def hierarchy_markdown(report: Mapping) -> str:
    """The report as a Markdown table: one row per semantic, dS per layer, uncertainty."""
    L, res = report["num_layers"], report["layer_resolutions"]
    rows = report["semantics"]
    spread = any(r.get("dS_se") is not None for r in rows)
    stable = any(r.get("level_stability") is not None for r in rows)
    head = ["semantic", "declared", "found", "layers", "accuracy", "dS all"] + \
        (["peak layer: dS ± 1.96 se"] if spread else []) + [f"{l} ({r}px)" for l, r in enumerate(res)]
    if stable:
        head[2:4] = ["found (bootstrap agreement)", "layers (bootstrap agreement)"]
    resamples = max((r.get("resamples") or 0 for r in rows), default=0)
    lines = [
        "# Semantic hierarchy",
        "",
        f"Model `{(report.get('model_fingerprint') or '?')[:16]}`, predictor `{report['predictor']}`, "
        f"{report['m']} samples moved by lam = {report['lam']} at psi = {report['psi']}. "
        f"dS: mean rise of the semantic's score when the boundary is applied on that layer only. "
        f"Layers: the narrowest window holding {report['rule']['mass']:.0%} of the total dS.",
        "",
    ]
    if spread:
        lines += [
            f"Uncertainty from {resamples} bootstrap resamples of the {report['m']} rescoring "
            "samples: ± is 1.96 standard errors (about a 95% interval); "
            + ("in brackets, the share of resamples that give the same level / the same layers. "
               if stable else "")
            + "This does not include the variance of the SVM fit itself: repeat `strata analyze` "
              "with other `--seed`s for that.",
            "",
        ]
    lines += [
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] * 3 + [":-:"] + ["--:"] * (2 + spread + L)) + "|",
    ]
    for row in rows:
        found = row["found_level"] or "-"
        if row["agrees"] is False:
            found = f"**{found}**"
        layers = "-" if row["layers"] is None else f"{row['layers'][0]}-{row['layers'][1]}"
        if row["layers"] is not None:
            found = _with_share(found, row.get("level_stability"))
            layers = _with_share(layers, row.get("range_stability"))
        ds = row["dS"] or [None] * L
        cells = [row["name"], row["declared_level"], found, layers, _fmt(row["accuracy"]),
                 _fmt(row["dS_all"])] + ([_peak(row)] if spread else []) + [_fmt(v) for v in ds]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [r for r in rows if r["note"]]
    if notes:
        lines += ["", "Not found:", ""] + [f"- {r['name']}: {r['note']}" for r in notes]
    lines += ["", "Bold: the found level differs from the predictor's declared level.", ""]
    if report.get("command"):
        lines += [f"Command: `{report['command']}`", ""]
    return "\n".join(lines)


# Sequential colour map (dark blue -> teal -> yellow), anchors interpolated linearly.
_CMAP = np.array([[30, 33, 70], [40, 90, 140], [35, 150, 140], [120, 200, 90], [250, 230, 80]],
                 dtype=np.float64)


def _colour(v: float) -> tuple[int, int, int]:
    v = min(max(v, 0.0), 1.0) * (len(_CMAP) - 1)
    i = min(int(v), len(_CMAP) - 2)
    c = _CMAP[i] + (v - i) * (_CMAP[i + 1] - _CMAP[i])
    return tuple(int(round(x)) for x in c)


_TITLE = "dS per layer (each row scaled to its max); red boxes: chosen layers"


def hierarchy_image(report: Mapping):
    """Heat map: one row per boundary, one column per layer, dS / row max; chosen ranges boxed."""
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.load_default(size=13)
    except TypeError:  # Pillow < 10.1: the fixed bitmap font
        font = ImageFont.load_default()
    rows = report["semantics"]
    L, res = report["num_layers"], report["layer_resolutions"]
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))

    def text_w(s: str) -> int:
        box = probe.textbbox((0, 0), s, font=font)
        return box[2] - box[0]

    labels = [f"{r['name']}  {r['declared_level']} -> {r['found_level'] or '-'}" for r in rows]
    cell_w, cell_h, pad = 44, 26, 10
    left = pad + max([text_w(s) for s in labels] + [60]) + pad
    top = pad + 20 + 36
    right_w = 90
    width = max(left + L * cell_w + right_w, pad + text_w(_TITLE) + pad)
    height = top + max(len(rows), 1) * cell_h + 36
    img = Image.new("RGB", (width, height), (255, 255, 255))
    d = ImageDraw.Draw(img)
    d.text((pad, pad), _TITLE, fill=(0, 0, 0), font=font)
    for l in range(L):
        x = left + l * cell_w + cell_w // 2
        for j, s in enumerate((str(l), f"{res[l]}px")):
            d.text((x - text_w(s) // 2, top - 36 + 16 * j), s, fill=(60, 60, 60), font=font)
    d.text((left + L * cell_w + 8, top - 20), "dS, all", fill=(60, 60, 60), font=font)
    for i, (row, label) in enumerate(zip(rows, labels)):
        y = top + i * cell_h
        colour = (170, 0, 0) if row["agrees"] is False else (0, 0, 0)
        d.text((pad, y + 6), label, fill=colour, font=font)
        ds = row["dS"]
        if ds is None:
            d.rectangle([left, y, left + L * cell_w - 1, y + cell_h - 1], fill=(235, 235, 235))
            d.text((left + 4, y + 5), row["note"][:60] or "no boundary", fill=(110, 110, 110), font=font)
            continue
        peak = max(max(ds), 0.0)
        for l, v in enumerate(ds):
            d.rectangle([left + l * cell_w, y, left + (l + 1) * cell_w - 1, y + cell_h - 1],
                        fill=_colour(v / peak if peak > 0 else 0.0))
        first, last = row["layers"]
        d.rectangle([left + first * cell_w, y, left + (last + 1) * cell_w - 1, y + cell_h - 1],
                    outline=(230, 30, 30), width=3)
        d.text((left + L * cell_w + 8, y + 6), f"{row['dS_all']:.3f}", fill=(0, 0, 0), font=font)
    # Colour key.
    ky = height - 24
    for x in range(120):
        d.line([(left + x, ky), (left + x, ky + 12)], fill=_colour(x / 119))
    d.text((left - 8 - text_w("0"), ky - 1), "0", fill=(0, 0, 0), font=font)
    d.text((left + 126, ky - 1), "row max", fill=(0, 0, 0), font=font)
    return img
