// Package tokenizer counts tokens exactly as Hugging Face `tokenizers`
// (the Rust library) does, in pure Go, from a model's tokenizer.json.
//
// It supports the BPE models used by current chat LLMs: byte-level BPE
// (GPT-2, Llama-3.x, Qwen2/2.5/3, DeepSeek-V3, o200k-style split patterns)
// and SentencePiece-style BPE with byte fallback (Mistral, Llama-2). The
// pipeline mirrors the Rust one: added and special tokens are matched first,
// then the normalizer, the pre-tokenizer, the BPE model and the
// post-processor run. Regex split patterns are recognised by their exact
// text and run by hand-written scanners (Go's regexp has no lookahead, and
// the scanners are faster); anything the package does not implement makes
// [Load] fail with an error naming the component, so a count is never
// silently wrong.
//
// Usage:
//
//	path, err := tokenizer.Resolve(ctx, "Qwen/Qwen3-8B", cacheDir)
//	tok, err := tokenizer.Load(path)
//	n := tok.Count(prompt, false)
//
// A [Tokenizer] is immutable after [Load] except for an internal merge
// cache, and is safe for concurrent use by multiple goroutines.
package tokenizer
