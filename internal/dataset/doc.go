// Package dataset loads the prompts a benchmark sends: from files (JSONL,
// JSON, CSV, Parquet, ShareGPT) with [Load], or generated with [Synthetic];
// multi-turn conversations (ShareGPT conversations, OpenAI messages, or
// {conversation_id, turns}) with [LoadConversations].
//
// Columns map to [Sample] fields through [Options]; by default the usual
// names are recognised (prompt/text/text_input/input/question/article for
// the prompt, expected/ref_output/output/answer/highlights for the reference
// output), so most public datasets load without options:
//
//	ds, err := dataset.Load("cnn_dailymail.jsonl", dataset.Options{Limit: 100})
//	var derr *dataset.Error
//	if errors.As(err, &derr) {
//		// derr.File, derr.Unit, derr.Line, derr.Msg locate the problem
//	}
//
// Every input error is an [*Error] wrapping one of the Err* sentinels, so
// the CLI can map bad input to its exit code without matching strings.
//
// Loading is done once before a run starts and must stay well under the
// 100 ms start-up budget: JSON goes through goccy/go-json, records are
// decoded to raw values and only the mapped columns are converted.
//
// A returned [Dataset] is not modified afterwards and is safe for
// concurrent reads.
package dataset
