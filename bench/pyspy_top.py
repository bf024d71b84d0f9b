"""Summarise a py-spy `--format raw` (collapsed stacks) profile: top functions by share.

    python bench/pyspy_top.py PROFILE.txt [--top 30] [--filter pounce]

Inclusive share = % of samples with the function anywhere on the stack (counted once
per sample); self share = % of samples where it is the innermost frame.
"""

from __future__ import annotations

import argparse
import collections
import re

_LINE = re.compile(r"^(.*) (\d+)$")


def strip_line(frame: str) -> str:
    # "func (path/to/file.py:123)" -> "func (path/to/file.py)"
    return re.sub(r":\d+\)$", ")", frame.strip())


def shorten(frame: str) -> str:
    frame = re.sub(r"\(/[^)]*/site-packages/", "(", frame)
    frame = re.sub(r"\(/[^)]*/src/", "(", frame)
    frame = re.sub(r"\(/[^)]*/lib/python3\.\d+/", "(stdlib/", frame)
    return frame


def package(frame: str) -> str:
    """`func (sqlalchemy/engine/base.py)` -> `sqlalchemy`; stdlib modules as `stdlib/asyncio`."""
    inside = frame[frame.rfind("(") + 1 : -1]
    parts = inside.split("/")
    if parts[0] == "stdlib":
        return "stdlib/" + parts[1].removesuffix(".py")
    return parts[0].removesuffix(".py")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--filter", default="", help="only frames containing this text")
    args = parser.parse_args()
    inclusive: collections.Counter[str] = collections.Counter()
    self_: collections.Counter[str] = collections.Counter()
    by_package: collections.Counter[str] = collections.Counter()
    by_pounce: collections.Counter[str] = collections.Counter()
    total = 0
    with open(args.profile) as fh:
        for line in fh:
            m = _LINE.match(line.rstrip("\n"))
            if not m:
                continue
            stack, count = m.group(1), int(m.group(2))
            frames = [shorten(strip_line(f)) for f in stack.split(";") if f.strip()]
            # the first frame is the thread name in py-spy raw output
            frames = [f for f in frames if "(" in f]
            total += count
            for f in set(frames):
                inclusive[f] += count
            if frames:
                self_[frames[-1]] += count
                by_package[package(frames[-1])] += count
                owner = next((f for f in reversed(frames) if "(pounce/" in f), "(no pounce frame)")
                by_pounce[owner] += count
    print(f"samples: {total}")
    print(f"\n== inclusive (top {args.top}) ==")
    for f, c in inclusive.most_common():
        if args.filter and args.filter not in f:
            continue
        print(f"{100 * c / total:6.1f}%  {f}")
        args.top -= 1
        if args.top <= 0:
            break
    print("\n== self (top 25) ==")
    for f, c in self_.most_common(25):
        print(f"{100 * c / total:6.1f}%  {f}")
    print("\n== self time by package of the innermost frame ==")
    for f, c in by_package.most_common(15):
        print(f"{100 * c / total:6.1f}%  {f}")
    print("\n== time by innermost pounce function (its library callees included) ==")
    for f, c in by_pounce.most_common(20):
        print(f"{100 * c / total:6.1f}%  {f}")


if __name__ == "__main__":
    main()
