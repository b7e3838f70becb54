#!/usr/bin/env python3
"""Derives the worked example's cases and replay data from the RouterBench subset.

Usage: make_data.py SHARED_ROUTERBENCH_TRAIN_JSONL_GZ OUT_DIR

Reads the RouterBench subset in rightsize's outcomes form (see ../../../shared/data/routing/
routerbench_subset/README.md) and writes, deterministically:
  OUT_DIR/data/routerbench_replay.jsonl.gz  prompts + the 11 models' recorded responses (no scores)
  OUT_DIR/cases/{arc,winogrande,mbpp}.jsonl  the eval cases: id, prompt, expected

RouterBench records whether each answer was right, not the answer key. For the multiple-choice
tasks the expected letter is the letter every model marked correct gave (first character of its
response); a prompt is kept only when at least one model was right, all right models agree, and no
wrong model gave that letter. MBPP was graded by running tests, which this example does not do: its
cases carry no expected answer and the suite checks only the answer's format (a Python function).
"""
import gzip
import json
import os
import sys

N = {"arc-challenge": 30, "winogrande": 30, "mbpp": 20}
LETTERS = {"arc-challenge": "ABCD", "winogrande": "AB"}


def first_letter(text, letters):
    t = text.strip().lstrip("(*").strip()
    return t[0] if t and t[0] in letters else None


def main():
    src, out = sys.argv[1], sys.argv[2]
    picked = {k: [] for k in N}
    with gzip.open(src, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            task = r["task"]
            if task not in N or len(picked[task]) >= N[task]:
                continue
            outs = r["outcomes"]
            if any("response" not in o for o in outs.values()):
                continue
            expected = ""
            if task in LETTERS:
                right = {first_letter(o["response"], LETTERS[task]) for o in outs.values() if o["score"] == 1}
                wrong = {first_letter(o["response"], LETTERS[task]) for o in outs.values() if o["score"] == 0}
                if len(right) != 1 or None in right:
                    continue
                expected = right.pop()
                if expected in wrong:
                    continue
            picked[task].append((r, expected))
    os.makedirs(os.path.join(out, "data"), exist_ok=True)
    os.makedirs(os.path.join(out, "cases"), exist_ok=True)
    replay = []
    names = {"arc-challenge": "arc", "winogrande": "winogrande", "mbpp": "mbpp"}
    for task, rows in picked.items():
        with open(os.path.join(out, "cases", names[task] + ".jsonl"), "w", encoding="utf-8") as f:
            for r, expected in rows:
                case = {"id": r["id"], "prompt": r["prompt"]}
                if expected:
                    case["expected"] = expected
                f.write(json.dumps(case, ensure_ascii=False) + "\n")
                replay.append({"id": r["id"], "task": task, "prompt": r["prompt"],
                               "outcomes": {m: {"response": o["response"]} for m, o in sorted(r["outcomes"].items())}})
    path = os.path.join(out, "data", "routerbench_replay.jsonl.gz")
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
            for rec in replay:
                gz.write((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
    print({t: len(v) for t, v in picked.items()}, "->", out)


if __name__ == "__main__":
    main()
