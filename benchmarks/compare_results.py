"""Metrics that moved between two results.json files (old new [min relative change]): a Markdown table."""

import json
import sys


def rows(old_path, new_path, rel=0.001):
    old = {(m["task"], m["item"], m["name"]): m for m in json.load(open(old_path))["metrics"]}
    new = {(m["task"], m["item"], m["name"]): m for m in json.load(open(new_path))["metrics"]}
    for k, n in new.items():
        o = old.get(k)
        if o is None or o["value"] is None or n["value"] is None:
            continue
        d = n["value"] - o["value"]
        if abs(d) > rel * max(abs(o["value"]), 1.0):
            yield k, o["value"], n["value"], d, n.get("flag", "")


if __name__ == "__main__":
    rel = float(sys.argv[3]) if len(sys.argv) > 3 else 0.001
    for (task, item, name), o, n, d, flag in rows(sys.argv[1], sys.argv[2], rel):
        print(f"| {task} | {item} | {name} | {o:.3f} | {n:.3f} | {d:+.3f} | {flag} |")
