"""Output helpers shared by the commands: table rows and figure files."""

from __future__ import annotations


def write_row(out, style: str, cells, widths) -> bool:
    """Write one table row of `cells` in `style` ("text", "csv", "markdown"); False
    for a style that collects rows instead (JSON).  `widths` matters only for text."""
    if style == "text":
        out.write("  ".join(c.rjust(w) if i else c.ljust(w)
                            for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
                  + "\n")
    elif style == "csv":
        out.write(",".join(cells) + "\n")
    elif style == "markdown":
        out.write("| " + " | ".join(cells) + " |\n")
    else:
        return False
    return True


def save_figure(fig, args, command: str = "curve") -> None:
    """Save `fig` to ``args.output`` at ``args.dpi``; a one-line exit on failure."""
    import matplotlib.pyplot as plt

    try:
        fig.savefig(args.output, dpi=args.dpi)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"qerror {command}: cannot write {args.output}: {exc}") from None
    finally:
        plt.close(fig)
    print(f"wrote {args.output}")
