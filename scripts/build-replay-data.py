#!/usr/bin/env python3
"""Builds data/replay/mt_bench_replay.jsonl.gz: the replay provider's shipped answers.

Source: RouteLLM's MT-Bench evaluation data (Apache-2.0), as copied into
shared/data/routing/routellm/mt_bench/ (see its README). Each first-turn GPT-4 judgement
embeds the judged model's full answer between "[The Start of Assistant's Answer]" and
"[The End of Assistant's Answer]"; we take the answer, the question text from question.jsonl
and the judge's 1-10 grade / 10 as the score. Contaminated prompts are left out, as RouteLLM does.
Cost: the same estimate as shared/data/routing/routellm (4 characters a token, list prices
GPT-4-1106 $10/$30, Mixtral-8x7B $0.6/$0.6 per 1M tokens), on the real answer length.

Usage: scripts/build-replay-data.py [SHARED_DIR] > /dev/null  (writes the file in data/replay/)
"""
import gzip, json, os, sys

shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "shared")
src = os.path.join(shared, "data", "routing", "routellm", "mt_bench")
out_path = os.path.join(os.path.dirname(__file__), "..", "data", "replay", "mt_bench_replay.jsonl.gz")

PRICES = {"gpt-4-1106-preview": (10.0, 30.0), "mistralai/Mixtral-8x7B-Instruct-v0.1": (0.6, 0.6)}
questions = {}
with open(os.path.join(src, "question.jsonl")) as f:
    for line in f:
        q = json.loads(line)
        questions[q["question_id"]] = q
contaminated = set()
with open(os.path.join(src, "contaminated_prompts.jsonl")) as f:
    for line in f:
        c = json.loads(line)
        contaminated.add(c["eval_prompt"].strip())

START, END = "[The Start of Assistant's Answer]\n", "\n[The End of Assistant's Answer]"
records = {}
with gzip.open(os.path.join(src, "judgements.jsonl.gz"), "rt") as f:
    for line in f:
        j = json.loads(line)
        if j["turn"] != 1 or j["model"] not in PRICES or j["score"] < 0:
            continue
        up = j["user_prompt"]
        a, b = up.find(START), up.rfind(END)
        if a < 0 or b < 0:
            continue
        answer = up[a + len(START):b].strip()
        q = questions[j["question_id"]]
        prompt = q["turns"][0]
        if prompt.strip() in contaminated:
            continue
        rec = records.setdefault(j["question_id"], {"id": f"mtbench.{j['question_id']}", "task": q["category"],
                                                     "prompt": prompt, "outcomes": {}})
        pin, pout = PRICES[j["model"]]
        cost = (len(prompt) / 4 * pin + len(answer) / 4 * pout) / 1e6
        rec["outcomes"][j["model"]] = {"score": j["score"] / 10.0, "cost_usd": round(cost, 8), "response": answer}

kept = [r for _, r in sorted(records.items()) if len(r["outcomes"]) == len(PRICES)]
with gzip.open(out_path, "wt", compresslevel=9) as f:
    for r in kept:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
print(f"wrote {len(kept)} prompts to {out_path}", file=sys.stderr)
