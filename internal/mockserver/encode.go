package mockserver

import (
	"strconv"

	"github.com/inferbench/inferbench/internal/jsonw"
)

// Response bodies are built with append-style encoders into pooled buffers:
// no reflection and, for synthetic answers, no per-token escaping.

// appendPrefix appends the part of every response object that precedes
// "choices": {"id":...,"object":...,"created":...,"model":...,
func (s *Server) appendPrefix(dst []byte, a api, stream bool, seq uint64, created int64) []byte {
	if a == apiChat {
		dst = append(dst, `{"id":"chatcmpl-mock-`...)
	} else {
		dst = append(dst, `{"id":"cmpl-mock-`...)
	}
	dst = strconv.AppendUint(dst, seq, 10)
	switch {
	case a == apiChat && stream:
		dst = append(dst, `","object":"chat.completion.chunk","created":`...)
	case a == apiChat:
		dst = append(dst, `","object":"chat.completion","created":`...)
	default:
		dst = append(dst, `","object":"text_completion","created":`...)
	}
	dst = strconv.AppendInt(dst, created, 10)
	dst = append(dst, `,"model":`...)
	dst = append(dst, s.modelJSON...)
	return append(dst, ',')
}

// tokenKind says which field a chunk's text goes to.
type tokenKind uint8

const (
	kindContent tokenKind = iota
	kindReasoning
)

// appendDeltaChunk appends one SSE event carrying text. role adds
// "role":"assistant" (chat's first chunk).
func appendDeltaChunk(dst, prefix []byte, a api, kind tokenKind, role bool, text string, escape bool) []byte {
	dst = append(dst, "data: "...)
	dst = append(dst, prefix...)
	if a == apiChat {
		dst = append(dst, `"choices":[{"index":0,"delta":{`...)
		if role {
			dst = append(dst, `"role":"assistant",`...)
		}
		if kind == kindReasoning {
			dst = append(dst, `"reasoning_content":"`...)
		} else {
			dst = append(dst, `"content":"`...)
		}
		dst = appendText(dst, text, escape)
		return append(dst, `"},"finish_reason":null}]}`+"\n\n"...)
	}
	dst = append(dst, `"choices":[{"index":0,"text":"`...)
	dst = appendText(dst, text, escape)
	return append(dst, `","logprobs":null,"finish_reason":null}]}`+"\n\n"...)
}

// appendFinalChunk appends the chunk carrying finish_reason, the usage chunk
// when requested, and the [DONE] sentinel.
func appendFinalChunk(dst, prefix []byte, a api, role bool, finish string, usage bool, promptTok, complTok int) []byte {
	dst = append(dst, "data: "...)
	dst = append(dst, prefix...)
	if a == apiChat {
		dst = append(dst, `"choices":[{"index":0,"delta":{`...)
		if role {
			dst = append(dst, `"role":"assistant","content":""`...)
		}
		dst = append(dst, `},"finish_reason":"`...)
	} else {
		dst = append(dst, `"choices":[{"index":0,"text":"","logprobs":null,"finish_reason":"`...)
	}
	dst = append(dst, finish...)
	dst = append(dst, `"}]}`+"\n\n"...)
	if usage {
		dst = append(dst, "data: "...)
		dst = append(dst, prefix...)
		dst = append(dst, `"choices":[],`...)
		dst = appendUsage(dst, promptTok, complTok)
		dst = append(dst, "}\n\n"...)
	}
	return append(dst, "data: [DONE]\n\n"...)
}

func appendUsage(dst []byte, promptTok, complTok int) []byte {
	dst = append(dst, `"usage":{"prompt_tokens":`...)
	dst = strconv.AppendInt(dst, int64(promptTok), 10)
	dst = append(dst, `,"completion_tokens":`...)
	dst = strconv.AppendInt(dst, int64(complTok), 10)
	dst = append(dst, `,"total_tokens":`...)
	dst = strconv.AppendInt(dst, int64(promptTok+complTok), 10)
	return append(dst, '}')
}

// appendText appends s, JSON-escaped when escape is set (synthetic tokens
// need none).
func appendText(dst []byte, s string, escape bool) []byte {
	if !escape {
		return append(dst, s...)
	}
	return jsonw.AppendEscaped(dst, s)
}

// appendErrorBody appends an OpenAI-style error object.
func appendErrorBody(dst []byte, code int, typ, msg string) []byte {
	dst = append(dst, `{"error":{"message":"`...)
	dst = jsonw.AppendEscaped(dst, msg)
	dst = append(dst, `","type":"`...)
	dst = append(dst, typ...)
	dst = append(dst, `","param":null,"code":`...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	return append(dst, "}}"...)
}
