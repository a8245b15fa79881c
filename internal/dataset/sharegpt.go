package dataset

import "strings"

// shareGPTTurn is one message of a ShareGPT conversation. Dumps use
// from/value; OpenAI-style exports use role/content.
type shareGPTTurn struct {
	From    string `json:"from"`
	Value   string `json:"value"`
	Role    string `json:"role"`
	Content string `json:"content"`
}

func (t *shareGPTTurn) role() string {
	if t.From != "" {
		return strings.ToLower(t.From)
	}
	return strings.ToLower(t.Role)
}

func (t *shareGPTTurn) text() string {
	if t.Value != "" {
		return t.Value
	}
	return t.Content
}

type shareGPTRecord struct {
	Conversations []shareGPTTurn `json:"conversations"`
}

// isShareGPT reports whether a record looks like ShareGPT: it has a
// "conversations" list and nothing the tabular mapping could use as a prompt.
func isShareGPT(rec record, opts Options) bool {
	if opts.PromptColumn != "" || opts.TokenIDsColumn != "" {
		return false
	}
	raw, ok := rec["conversations"]
	if !ok || firstNonSpace(raw) != '[' {
		return false
	}
	for _, c := range DefaultPromptColumns {
		if _, ok := rec[c]; ok {
			return false
		}
	}
	return true
}

func isAssistant(role string) bool {
	switch role {
	case "gpt", "assistant", "chatgpt", "bard", "bing", "model":
		return true
	}
	return false
}

// addShareGPT appends the sample of one conversation, or counts it as
// skipped when it has no non-empty human turn.
func (d *Dataset) addShareGPT(conv []shareGPTTurn) {
	var system string
	for i := range conv {
		switch conv[i].role() {
		case "system":
			if system == "" {
				system = conv[i].text()
			}
		case "human", "user":
			prompt := conv[i].text()
			if strings.TrimSpace(prompt) == "" {
				d.Skipped++
				return
			}
			s := Sample{Prompt: prompt, System: system}
			if i+1 < len(conv) && isAssistant(conv[i+1].role()) {
				s.Expected = conv[i+1].text()
			}
			d.Samples = append(d.Samples, s)
			return
		}
	}
	d.Skipped++
}
