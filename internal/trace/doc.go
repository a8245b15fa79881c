// Package trace reads recorded request traces and turns them into what a
// replay sends: one prompt per recorded request, synthesized to the recorded
// length, and the request's issue time.
//
// Formats ([Load]; [Options.Format] "" sniffs the file):
//
//   - mooncake: JSONL, one request per line, as published with Mooncake:
//     {"timestamp": 27482, "input_length": 6955, "output_length": 52,
//     "hash_ids": [46, 47, …]}. timestamp is in milliseconds; hash_ids names
//     the request's prompt blocks of [DefaultBlockSize] tokens, in order;
//     requests that name the same block share that block's text.
//   - azure: the Azure LLM inference trace CSV: a header row holding
//     TIMESTAMP (a date-time such as "2023-11-16 18:15:46.6805900", UTC
//     unless it carries an offset), ContextTokens and GeneratedTokens,
//     matched case-insensitively; other columns are ignored.
//   - jsonl: one request per line with a timestamp in milliseconds (like
//     mooncake; a number, fractions allowed), a "prompt" string or an
//     OpenAI "messages" list (an optional system message, then one user
//     message) and an optional "max_tokens"; its prompt is sent as written.
//
// Sniffing: a .csv file is azure; a JSON line with input_length or hash_ids
// is mooncake, one with prompt or messages is jsonl.
//
// Timestamps need not start at zero: a replay issues each request at its
// timestamp minus the first replayed request's. Rows out of timestamp order
// are sorted (stably, so equal times keep the file's order) and reported in
// [Trace.Reordered]: the replay is in time order, never in file order.
//
// Every input is bounded before it is used: lines of at most [MaxLineBytes],
// lengths of at most [MaxTokens], at most [MaxHashIDs] block ids per row and
// [MaxRows] rows. A bad row is an [*Error] naming the file and line.
//
// [Synthesizer] builds the prompts: see its documentation for how the text is
// made exact in tokens and how blocks are shared. A [Feed] builds them ahead
// of a replay, in bounded memory, so a whole trace can be replayed.
package trace
