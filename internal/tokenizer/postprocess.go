package tokenizer

import (
	"encoding/json"
	"fmt"
)

// buildPostProcessor returns the ids the post-processor puts before and
// after a single sequence when special tokens are requested.
func buildPostProcessor(c *componentJSON, added []addedTokenJSON, vocab map[string]int32) (prefix, suffix []int32, err error) {
	if c == nil {
		return nil, nil, nil
	}
	switch c.Type {
	case "ByteLevel":
		// Only trims offsets; adds no tokens.
		return nil, nil, nil
	case "Sequence":
		for _, child := range c.Processors {
			p, s, err := buildPostProcessor(child, added, vocab)
			if err != nil {
				return nil, nil, err
			}
			// A later processor wraps the output of the earlier ones.
			prefix = append(p, prefix...)
			suffix = append(suffix, s...)
		}
		return prefix, suffix, nil
	case "TemplateProcessing":
		seen := false
		for _, item := range c.Single {
			switch {
			case item.Sequence != nil:
				if item.Sequence.ID != "A" || seen {
					return nil, nil, unsupported("TemplateProcessing single sequence", item.Sequence.ID)
				}
				seen = true
			case item.SpecialToken != nil:
				sp, ok := c.SpecialTokens[item.SpecialToken.ID]
				if !ok {
					return nil, nil, fmt.Errorf("TemplateProcessing: special token %q is not in special_tokens", item.SpecialToken.ID)
				}
				if seen {
					suffix = append(suffix, sp.IDs...)
				} else {
					prefix = append(prefix, sp.IDs...)
				}
			default:
				return nil, nil, unsupported("TemplateProcessing item", "other than SpecialToken or Sequence")
			}
		}
		if !seen {
			return nil, nil, fmt.Errorf("TemplateProcessing: single template has no sequence $A")
		}
		return prefix, suffix, nil
	case "RobertaProcessing", "BertProcessing":
		cls, err := tokenPair(c.Cls, c.Type+" cls")
		if err != nil {
			return nil, nil, err
		}
		sep, err := tokenPair(c.Sep, c.Type+" sep")
		if err != nil {
			return nil, nil, err
		}
		return []int32{cls}, []int32{sep}, nil
	}
	return nil, nil, unsupported("post-processor", c.Type)
}

// tokenPair decodes the ["<s>", 0] form used by Bert and Roberta processors.
func tokenPair(raw []json.RawMessage, what string) (int32, error) {
	var id int32
	if len(raw) != 2 {
		return 0, fmt.Errorf("%s: want [token, id]", what)
	}
	if err := json.Unmarshal(raw[1], &id); err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return id, nil
}
