#!/usr/bin/env python3
"""Derives the cascade example's outcomes file from the RouterBench subset.

Usage: make_data.py SHARED_ROUTERBENCH_TRAIN_JSONL_GZ OUT_JSONL_GZ

Reads the RouterBench subset in rightsize's outcomes form (shared/data/routing/routerbench_subset/,
see its README) and writes, deterministically, the first N ARC-Challenge and first N Winogrande
prompts (multiple choice: answers compare as option letters) with, for each of the 11 models:
  response  the model's recorded answer (RouterBench, early 2024)
  score     RouterBench's correctness label (0 or 1)
  cost_usd  what the gateway charges for that answer at ../gateway.yaml's prices: the replay
            provider's usage estimate (4 bytes a token, rounded up, of the prompt and of the answer)
            x the model's prices, in nano-dollars rounded half away from zero (src/common/money.cc).
            So `plan` and `simulate` count exactly what `serve` will put in the ledger.
Models are keyed by the example config's model names (which are also their replay ids).
"""
import gzip
import json
import sys

N = {"arc-challenge": 250, "winogrande": 250}

# RouterBench model -> (example name, input $/Mtok, output $/Mtok); the prices of ../../eval/gateway.yaml.
MODELS = {
    "mistralai/mistral-7b-chat": ("mistral-7b", "0.2", "0.2"),
    "WizardLM/WizardLM-13B-V1.2": ("wizardlm-13b", "0.3", "0.3"),
    "mistralai/mixtral-8x7b-chat": ("mixtral-8x7b", "0.6", "0.6"),
    "meta/code-llama-instruct-34b-chat": ("code-llama-34b", "0.776", "0.776"),
    "zero-one-ai/Yi-34B-Chat": ("yi-34b", "0.8", "0.8"),
    "claude-instant-v1": ("claude-instant", "0.8", "2.4"),
    "meta/llama-2-70b-chat": ("llama-2-70b", "0.9", "0.9"),
    "gpt-3.5-turbo-1106": ("gpt-3.5-turbo", "1", "2"),
    "claude-v1": ("claude-v1", "8", "24"),
    "claude-v2": ("claude-v2", "8", "24"),
    "gpt-4-1106-preview": ("gpt-4", "10", "30"),
}


def nanos_per_mtok(usd):
    # Exact decimal -> integer nano-dollars per million tokens.
    whole, _, frac = usd.partition(".")
    return int(whole) * 10**9 + int((frac + "0" * 9)[:9])


def tokens(text):
    return (len(text.encode("utf-8")) + 3) // 4


def cost_nanos(prompt, response, p_in, p_out):
    total = nanos_per_mtok(p_in) * tokens(prompt) + nanos_per_mtok(p_out) * tokens(response)
    return (total + 500_000) // 1_000_000


def main():
    src, dst = sys.argv[1], sys.argv[2]
    picked = []
    counts = {k: 0 for k in N}
    with gzip.open(src, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            task = r["task"]
            if task not in N or counts[task] >= N[task]:
                continue
            outs = r["outcomes"]
            if set(outs) != set(MODELS) or any("response" not in o for o in outs.values()):
                continue
            counts[task] += 1
            rec = {"id": r["id"], "task": task, "prompt": r["prompt"], "outcomes": {}}
            for model, o in sorted(outs.items(), key=lambda kv: MODELS[kv[0]][0]):
                name, p_in, p_out = MODELS[model]
                rec["outcomes"][name] = {
                    "score": o["score"],
                    "cost_usd": cost_nanos(r["prompt"], o["response"], p_in, p_out) / 1e9,
                    "response": o["response"],
                }
            picked.append(rec)
    with open(dst, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
            for rec in picked:
                gz.write((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
    print(counts, "->", dst)


if __name__ == "__main__":
    main()
