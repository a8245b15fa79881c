//go:build ignore

// gen writes the synthetic dataset fixtures of package dataset's tests:
// sharegpt.json (ShareGPT-shaped conversations with the quirks of real
// dumps) and news.jsonl (article/highlights rows shaped like CNN/DailyMail).
// Every text is generated here from word lists, so the files carry no
// third-party content. Deterministic: rerunning gives identical files.
//
//	cd internal/dataset && go run testdata/gen.go
package main

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
)

var (
	subjects = []string{"the scheduler", "a Poisson process", "my Go program", "the KV cache", "our web server",
		"the tokenizer", "a Python script", "this SQL query", "the GPU", "a ZeroMQ socket", "the load balancer",
		"my résumé", "the café's menu", "a naïve Bayes model", "the 東京 office", "Ünïcödé text"}
	verbs = []string{"explain", "rewrite", "summarise", "debug", "translate", "optimise", "review", "compare",
		"document", "test"}
	tails = []string{"in three sentences.", "for a beginner.", "without using recursion.", "and list the risks.",
		"as a haiku.", "in French, then in German.", "with a table of pros and cons.", "step by step.",
		"so that my manager understands it.", "and keep it under 100 words."}
	extras = []string{
		"Here is the error:\n```\npanic: runtime error: index out of range [3] with length 3\n```",
		"It prints \"hello\\tworld\" instead of a tab.",
		"The path is C:\\Users\\me\\data\\file.csv.",
		"<div class=\"x\">&nbsp;</div> shows up as raw HTML.",
		"Emoji test: 🚀🔥 👩🏽‍💻 🇯🇵.",
		"用中文回答，谢谢。",
		"Line one\u2028line two\u2029paragraph.",
		"SELECT id, name FROM users WHERE created_at > '2024-01-01' ORDER BY 2;",
		"def f(x):\n    return {k: v for k, v in x.items() if v}\n",
		"Numbers: 3.14159, 1e-9, −42, 1,000,000.",
	}
	answers = []string{"Sure. ", "Here is a short answer. ", "Step 1: read the error. ", "In short: ", "Good question! "}
	words   = strings.Fields("latency throughput request response token stream chunk server client queue batch " +
		"percentile histogram snapshot metric report event socket buffer deadline retry timeout")
)

type turn struct {
	From  string `json:"from"`
	Value string `json:"value"`
}

type conv struct {
	ID            string `json:"id"`
	Conversations []turn `json:"conversations"`
}

func prompt(r *rand.Rand) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Please %s %s %s", verbs[r.IntN(len(verbs))], subjects[r.IntN(len(subjects))], tails[r.IntN(len(tails))])
	for range r.IntN(3) {
		b.WriteString(" " + extras[r.IntN(len(extras))])
	}
	if r.IntN(4) == 0 { // a long prompt: a pasted log of up to ~4 kB
		for i := range 20 + r.IntN(60) {
			fmt.Fprintf(&b, "\n%04d %s %s=%d", i, words[r.IntN(len(words))], words[r.IntN(len(words))], r.IntN(100000))
		}
	}
	return b.String()
}

func answer(r *rand.Rand) string {
	var b strings.Builder
	b.WriteString(answers[r.IntN(len(answers))])
	for range 5 + r.IntN(40) {
		b.WriteString(words[r.IntN(len(words))] + " ")
	}
	return strings.TrimSpace(b.String()) + "."
}

func main() {
	r := rand.New(rand.NewPCG(2026, 12))
	var convs []conv
	var dup []string
	add := func(turns ...turn) {
		convs = append(convs, conv{ID: fmt.Sprintf("syn%04d_%d", len(convs), r.IntN(10)), Conversations: turns})
	}
	for i := range 300 {
		switch {
		case i%50 == 7: // a system message first, then the human turn
			add(turn{"system", "You are a careful assistant."}, turn{"human", prompt(r)}, turn{"gpt", answer(r)})
		case i%50 == 13: // system only: no prompt, skipped
			add(turn{"system", "You are a pirate."})
		case i%50 == 21: // the assistant speaks first, the human second
			add(turn{"gpt", "Hello! How can I help?"}, turn{"human", prompt(r)}, turn{"gpt", answer(r)})
		case i%50 == 29: // assistant only: skipped
			add(turn{"gpt", answer(r)})
		case i%100 == 33: // empty and blank human turns: skipped
			add(turn{"human", ""})
		case i%100 == 83:
			add(turn{"human", " \n\t "})
		case i == 41: // a lone zero-width space is not white space: a (useless) prompt
			add(turn{"human", "\u200b"})
		case i == 42:
			add()
		case i%30 == 17 && len(dup) > 0: // repeated prompts, as in real dumps
			add(turn{"human", dup[r.IntN(len(dup))]})
		case i%3 == 0: // prompt and answer, then more turns
			p := prompt(r)
			dup = append(dup, p)
			add(turn{"human", p}, turn{"gpt", answer(r)}, turn{"human", "Thanks! And " + prompt(r)}, turn{"gpt", answer(r)})
		case i%3 == 1:
			add(turn{"human", prompt(r)}, turn{"gpt", answer(r)})
		default: // first turn only, as in the filtered ShareGPT files
			add(turn{"human", prompt(r)})
		}
	}
	out, err := json.MarshalIndent(convs, "", " ")
	check(err)
	check(os.WriteFile("testdata/sharegpt.json", append(out, '\n'), 0o644))

	var lines []byte
	for i := range 100 {
		var art, hl strings.Builder
		city := []string{"Lisbon", "Osaka", "Nairobi", "Quito", "Tromsø", "Zürich"}[i%6]
		fmt.Fprintf(&art, "By . Staff Reporter . PUBLISHED: . %02d:%02d EST, %d March 2026 . %s (News) -- ", r.IntN(24), r.IntN(60), 1+r.IntN(28), city)
		for range 8 + r.IntN(30) {
			fmt.Fprintf(&art, "Officials said the %s %s rose by %d%% on %s. ", words[r.IntN(len(words))], words[r.IntN(len(words))], r.IntN(90), []string{"Monday", "Tuesday", "Friday"}[r.IntN(3)])
			if r.IntN(5) == 0 {
				art.WriteString("\"We did not expect this,\" a spokesperson told reporters. ")
			}
		}
		for j := range 2 + r.IntN(3) {
			if j > 0 {
				hl.WriteString("\n")
			}
			fmt.Fprintf(&hl, "%s %s reached %d in %s .", strings.ToUpper(words[r.IntN(len(words))][:1])+words[r.IntN(len(words))][1:], words[r.IntN(len(words))], r.IntN(1000), city)
		}
		sum := sha1.Sum([]byte(fmt.Sprint("story", i)))
		line, err := json.Marshal(map[string]string{"id": hex.EncodeToString(sum[:]), "article": strings.TrimSpace(art.String()), "highlights": hl.String()})
		check(err)
		lines = append(append(lines, line...), '\n')
	}
	check(os.WriteFile("testdata/news.jsonl", lines, 0o644))

	usable, distinct := 0, map[string]bool{}
	for _, c := range convs {
		for _, t := range c.Conversations {
			if t.From == "human" {
				if strings.TrimSpace(t.Value) != "" {
					usable++
					distinct[t.Value] = true
				}
				break
			}
		}
	}
	fmt.Printf("sharegpt.json: %d entries, %d usable, %d distinct prompts; news.jsonl: 100 rows\n", len(convs), usable, len(distinct))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
