#!/usr/bin/env python3
"""Writes llama3like/tokenizer.json.gz: Qwen3's tokenizer.json (Apache-2.0,
../qwen3) changed to take the features of Llama-3's that no other shipped
tokenizer has, so that every clone tests them against Hugging Face's own ids:

* ignore_merges: true (a pre-token that is in the vocabulary is one token,
  whatever the merges say);
* digit runs split in groups of 1-3 (the pre-tokenizer's \\p{N}{1,3});
* no normalizer.

So that ignore_merges matters, the merges that build every 7th whole word
(a vocabulary entry "Ġ" + 4 or more ASCII letters) are dropped: without
ignore_merges those words would come out in pieces.

Run from this directory: python3 make-tokenizer-json.py
"""
import gzip
import json

src = json.load(gzip.open("../qwen3/tokenizer.json.gz"))
src["normalizer"] = None
split = src["pre_tokenizer"]["pretokenizers"][0]
split["pattern"]["Regex"] = split["pattern"]["Regex"].replace(r"|\p{N}|", r"|\p{N}{1,3}|")
assert r"\p{N}{1,3}" in split["pattern"]["Regex"]
model = src["model"]
model["ignore_merges"] = True

words = {t for t in model["vocab"] if t.startswith("Ġ") and len(t) >= 5 and t[1:].isascii() and t[1:].isalpha()}
dropped, kept, n = set(), [], 0
for m in model["merges"]:
    a, b = m if isinstance(m, list) else m.split(" ", 1)
    if a + b in words:
        n += 1
        if n % 7 == 0:
            dropped.add(a + b)
            continue
    kept.append(m)
model["merges"] = kept
print(f"dropped {len(dropped)} merges of {len(kept) + len(dropped)}")

with gzip.GzipFile("tokenizer.json.gz", "wb", compresslevel=9, mtime=0) as f:
    f.write(json.dumps(src, ensure_ascii=False, separators=(",", ":")).encode())
