package dataset_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/parquet-go/parquet-go"

	"github.com/inferbench/inferbench/internal/dataset"
)

func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// parquetRow is the schema of the Parquet test files.
type parquetRow struct {
	Prompt    string  `parquet:"prompt"`
	System    *string `parquet:"system,optional"`
	MaxTokens int64   `parquet:"max_tokens"`
	TokenIDs  []int32 `parquet:"token_ids,list"`
	Answer    string  `parquet:"answer"`
}

func writeParquet[T any](t testing.TB, name string, rows []T, opts ...parquet.WriterOption) string {
	t.Helper()
	var buf bytes.Buffer
	if err := parquet.Write(&buf, rows, opts...); err != nil {
		t.Fatal(err)
	}
	return writeFile(t, name, buf.String())
}

func strp(s string) *string { return &s }

func TestLoad_Formats(t *testing.T) {
	t.Parallel()
	full := []dataset.Sample{
		{Prompt: `say "hi"`, System: "be brief", MaxTokens: 16, TokenIDs: []int32{1, 2}, Expected: "hi"},
		{Prompt: "tell me\na story", Expected: "once"},
	}
	promptsOnly := []dataset.Sample{{Prompt: "one"}, {Prompt: "two"}}
	tests := []struct {
		name string
		path func(t *testing.T) string
		opts dataset.Options
		want []dataset.Sample
		skip int
	}{
		{"jsonl", func(t *testing.T) string {
			return writeFile(t, "d.jsonl", `{"prompt":"say \"hi\"","system":"be brief","max_tokens":16,"token_ids":[1,2],"expected":"hi","id":7}`+"\r\n\n"+
				`{"prompt":"tell me\na story","system":null,"expected":"once"}`+"\n")
		}, dataset.Options{}, full, 0},
		{"ndjson with string max_tokens", func(t *testing.T) string {
			return writeFile(t, "d.ndjson", `{"text":"say \"hi\"","system":"be brief","max_tokens":"16","input_ids":[1,2],"answer":"hi"}`+"\n"+
				`{"text":"tell me\na story","answer":"once"}`)
		}, dataset.Options{}, full, 0},
		{"json array", func(t *testing.T) string {
			return writeFile(t, "d.json", `[
  {"prompt": "say \"hi\"", "system": "be brief", "max_tokens": 16, "token_ids": [1, 2], "expected": "hi"},
  {"prompt": "tell me\na story", "expected": "once"}
]`)
		}, dataset.Options{}, full, 0},
		{"json file holding JSON lines", func(t *testing.T) string {
			return writeFile(t, "d.json", "{\"prompt\":\"one\"}\n{\"prompt\":\"two\"}\n")
		}, dataset.Options{}, promptsOnly, 0},
		{"csv with BOM and quoted newline", func(t *testing.T) string {
			return writeFile(t, "d.csv", "\xef\xbb\xbfprompt,system,max_tokens,token_ids,expected\n"+
				`"say ""hi""",be brief,16,"[1, 2]",hi`+"\n"+
				"\"tell me\na story\",,,,once\n")
		}, dataset.Options{}, full, 0},
		{"csv space separated ids", func(t *testing.T) string {
			return writeFile(t, "d.csv", "question,token_ids\none,\ntwo,5 6\n")
		}, dataset.Options{}, []dataset.Sample{{Prompt: "one"}, {Prompt: "two", TokenIDs: []int32{5, 6}}}, 0},
		{"parquet", func(t *testing.T) string {
			return writeParquet(t, "d.parquet", []parquetRow{
				{Prompt: `say "hi"`, System: strp("be brief"), MaxTokens: 16, TokenIDs: []int32{1, 2}, Answer: "hi"},
				{Prompt: "tell me\na story", Answer: "once"},
			})
		}, dataset.Options{}, full, 0},
		{"sharegpt json", func(t *testing.T) string {
			return writeFile(t, "sg.json", `[
 {"id": "a", "conversations": [{"from": "system", "value": "be brief"}, {"from": "human", "value": "say \"hi\""}, {"from": "gpt", "value": "hi"}, {"from": "human", "value": "again"}]},
 {"id": "b", "conversations": [{"from": "gpt", "value": "ignored"}]},
 {"id": "c", "conversations": [{"from": "human", "value": "  "}]},
 {"id": "d", "conversations": [{"role": "user", "content": "tell me\na story"}, {"role": "assistant", "content": "once"}]}
]`)
		}, dataset.Options{}, []dataset.Sample{
			{Prompt: `say "hi"`, System: "be brief", Expected: "hi"},
			{Prompt: "tell me\na story", Expected: "once"},
		}, 2},
		{"sharegpt jsonl detected", func(t *testing.T) string {
			return writeFile(t, "sg.jsonl", `{"conversations":[{"from":"human","value":"one"}]}`+"\n"+`{"conversations":[{"from":"user","value":"two"},{"from":"human","value":"x"}]}`+"\n")
		}, dataset.Options{}, promptsOnly, 0},
		{"sharegpt explicit on other extension", func(t *testing.T) string {
			return writeFile(t, "sg.txt", `[{"conversations":[{"from":"human","value":"one"}]},{"conversations":[{"from":"human","value":"two"}]}]`)
		}, dataset.Options{Format: dataset.FormatShareGPT}, promptsOnly, 0},
		{"explicit jsonl on other extension", func(t *testing.T) string {
			return writeFile(t, "d.txt", "{\"input\":\"one\"}\n{\"input\":\"two\"}")
		}, dataset.Options{Format: dataset.FormatJSONL}, promptsOnly, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := tc.path(t)
			ds, err := dataset.Load(path, tc.opts)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if diff := cmp.Diff(tc.want, ds.Samples); diff != "" {
				t.Errorf("samples (-want +got):\n%s", diff)
			}
			if ds.Len() != len(tc.want) || ds.Skipped != tc.skip || ds.Name != filepath.Base(path) {
				t.Errorf("Len %d Skipped %d Name %q; want %d, %d, %q", ds.Len(), ds.Skipped, ds.Name, len(tc.want), tc.skip, filepath.Base(path))
			}
		})
	}
}

func TestLoad_ParquetRowGroups(t *testing.T) {
	t.Parallel()
	rows := make([]parquetRow, 25)
	for i := range rows {
		rows[i] = parquetRow{Prompt: strings.Repeat("p", i+1), MaxTokens: int64(i)}
	}
	rows[21].Prompt = ""
	path := writeParquet(t, "groups.parquet", rows, parquet.MaxRowsPerRowGroup(10))
	ds, err := dataset.Load(path, dataset.Options{Limit: 21})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Len() != 21 || ds.Samples[20].Prompt != strings.Repeat("p", 21) || ds.Samples[20].MaxTokens != 20 {
		t.Errorf("got %d samples, last %+v", ds.Len(), ds.Samples[ds.Len()-1])
	}
	// Row 22 is in the third row group; its number must count across groups.
	_, err = dataset.Load(path, dataset.Options{})
	want := "dataset " + path + ` row 22: column "prompt" is empty`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v; want %s", err, want)
	}
}

func TestLoad_ColumnMapping(t *testing.T) {
	t.Parallel()
	jsonl := `{"prompt":"p1","text":"t1","q":"q1","sys":"s1","n":"5","ref":"r1","output":"o1","ids":[9],"token_ids":[8]}` + "\n"
	csv := "prompt,text,q,sys,n,ref,output,ids,token_ids\np1,t1,q1,s1,5,r1,o1,[9],[8]\n"
	pq := []struct {
		Prompt   string  `parquet:"prompt"`
		Text     string  `parquet:"text"`
		Q        string  `parquet:"q"`
		Sys      string  `parquet:"sys"`
		N        int32   `parquet:"n"`
		Ref      string  `parquet:"ref"`
		Output   string  `parquet:"output"`
		IDs      []int64 `parquet:"ids,list"`
		TokenIDs []int32 `parquet:"token_ids,list"`
	}{{"p1", "t1", "q1", "s1", 5, "r1", "o1", []int64{9}, []int32{8}}}
	explicit := dataset.Options{PromptColumn: "q", SystemColumn: "sys", MaxTokensColumn: "n", ExpectedColumn: "ref", TokenIDsColumn: "ids"}
	tests := []struct {
		name string
		opts dataset.Options
		want dataset.Sample
	}{
		// "prompt" comes before "text", "output" is the first expected default present.
		{"defaults", dataset.Options{}, dataset.Sample{Prompt: "p1", Expected: "o1", TokenIDs: []int32{8}}},
		{"explicit", explicit, dataset.Sample{Prompt: "q1", System: "s1", MaxTokens: 5, Expected: "r1", TokenIDs: []int32{9}}},
	}
	files := map[string]func(t *testing.T) string{
		"jsonl":   func(t *testing.T) string { return writeFile(t, "m.jsonl", jsonl) },
		"json":    func(t *testing.T) string { return writeFile(t, "m.json", "["+jsonl+"]") },
		"csv":     func(t *testing.T) string { return writeFile(t, "m.csv", csv) },
		"parquet": func(t *testing.T) string { return writeParquet(t, "m.parquet", pq) },
	}
	for format, mk := range files {
		for _, tc := range tests {
			t.Run(format+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				ds, err := dataset.Load(mk(t), tc.opts)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff([]dataset.Sample{tc.want}, ds.Samples); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestLoad_Limit(t *testing.T) {
	t.Parallel()
	var jsonl, csv, sg strings.Builder
	csv.WriteString("text_input\n")
	sg.WriteString("[")
	var pq []parquetRow
	for i := range 10 {
		p := "prompt " + string(rune('a'+i))
		jsonl.WriteString(`{"text_input":"` + p + `"}` + "\n")
		csv.WriteString(p + "\n")
		if i > 0 {
			sg.WriteString(",")
		}
		sg.WriteString(`{"conversations":[{"from":"human","value":"` + p + `"}]}`)
		pq = append(pq, parquetRow{Prompt: p})
	}
	sg.WriteString("]")
	// A bad row after the limit must not be read at all.
	jsonl.WriteString("not json\n")
	paths := map[string]string{
		"jsonl":    writeFile(t, "l.jsonl", jsonl.String()),
		"json":     writeFile(t, "l.json", "["+strings.ReplaceAll(strings.TrimSuffix(jsonl.String(), "not json\n"), "}\n{", "},{")+"]"),
		"csv":      writeFile(t, "l.csv", csv.String()),
		"sharegpt": writeFile(t, "l_sg.json", sg.String()),
		"parquet":  writeParquet(t, "l.parquet", pq),
	}
	for name, path := range paths {
		for _, limit := range []int{1, 3, 10} {
			ds, err := dataset.Load(path, dataset.Options{Limit: limit})
			if err != nil {
				t.Fatalf("%s limit %d: %v", name, limit, err)
			}
			if ds.Len() != limit {
				t.Errorf("%s limit %d: got %d samples", name, limit, ds.Len())
			}
			for i, s := range ds.Samples {
				if want := "prompt " + string(rune('a'+i)); s.Prompt != want {
					t.Errorf("%s limit %d: sample %d = %q, want %q", name, limit, i, s.Prompt, want)
				}
			}
		}
		if name != "jsonl" {
			if ds, err := dataset.Load(path, dataset.Options{}); err != nil || ds.Len() != 10 {
				t.Errorf("%s no limit: len %v, err %v", name, ds, err)
			}
		}
	}
}

func TestLoad_Errors(t *testing.T) {
	t.Parallel()
	corrupt := func(t *testing.T) string { return writeFile(t, "bad.parquet", "PAR1 this is not parquet PAR1") }
	tests := []struct {
		name     string
		file     string // name in the temp dir
		content  string // "" with mk nil: the file is not created
		mk       func(t *testing.T) string
		opts     dataset.Options
		want     string // exact message after "dataset PATH", or a prefix ending in "..."
		sentinel error
		unit     string
		line     int
	}{
		{"missing file", "x.jsonl", "", nil, dataset.Options{}, ": no such file", dataset.ErrNotFound, "", 0},
		{"jsonl invalid", "data.jsonl", "{\"prompt\":\"a\"}\n\n{\"prompt\":\"b\"}\n\n\n\n{\"prompt\": \"c\",}\n", nil, dataset.Options{},
			" line 7: invalid JSON: ...", dataset.ErrSyntax, "line", 7},
		{"jsonl not an object", "d.jsonl", "{\"prompt\":\"a\"}\n[1, 2]\n", nil, dataset.Options{}, ` line 2: want a JSON object, got array "[1, 2]"`, dataset.ErrSyntax, "line", 2},
		{"jsonl no prompt column", "x.jsonl", `{"b":1,"a":2}`, nil, dataset.Options{}, `: no column "prompt" (columns: a, b)`, dataset.ErrNoColumn, "", 0},
		{"jsonl explicit column absent", "x.jsonl", `{"prompt":"p"}`, nil, dataset.Options{ExpectedColumn: "gold"}, `: no column "gold" (columns: prompt)`, dataset.ErrNoColumn, "", 0},
		{"jsonl later row lacks prompt", "x.jsonl", "{\"text\":\"a\"}\n{\"txt\":\"b\"}\n", nil, dataset.Options{}, ` line 2: no column "text" (columns: txt)`, dataset.ErrNoColumn, "line", 2},
		{"jsonl empty prompt", "x.jsonl", "{\"text\":\"a\"}\n{\"text\":\" \\n\"}\n", nil, dataset.Options{}, ` line 2: column "text" is empty`, dataset.ErrEmpty, "line", 2},
		{"jsonl prompt not a string", "x.jsonl", `{"prompt":42}`, nil, dataset.Options{}, ` line 1: column "prompt": want a string, got number "42"`, dataset.ErrValue, "line", 1},
		{"jsonl negative max_tokens", "x.jsonl", `{"prompt":"a","max_tokens":-5}`, nil, dataset.Options{}, ` line 1: column "max_tokens": want a non-negative integer, got "-5"`, dataset.ErrValue, "line", 1},
		{"jsonl bad token ids", "x.jsonl", `{"token_ids":"1 2"}`, nil, dataset.Options{}, ` line 1: column "token_ids": want an array of integers, got string "\"1 2\""`, dataset.ErrValue, "line", 1},
		{"json syntax", "x.json", "[\n {\"prompt\": \"a\"},\n {\"prompt\": \"b\"\n", nil, dataset.Options{}, " line 3: invalid JSON: ...", dataset.ErrSyntax, "line", 3},
		{"json element not an object", "x.json", `[{"prompt":"a"}, 5]`, nil, dataset.Options{}, ` record 2: want a JSON object, got number "5"`, dataset.ErrSyntax, "record", 2},
		{"json top level not an array", "x.json", `"prompt"`, nil, dataset.Options{}, ` line 1: want a JSON array of objects, got string "\"prompt\""`, dataset.ErrSyntax, "line", 1},
		{"json empty prompt", "x.json", `[{"prompt":"a"},{"prompt":"b"},{"prompt":""}]`, nil, dataset.Options{}, ` record 3: column "prompt" is empty`, dataset.ErrEmpty, "record", 3},
		{"sharegpt conversations not a list", "sg.json", `[{"conversations":[{"from":"human","value":"x"}]},{"conversations":5}]`, nil, dataset.Options{},
			` record 2: "conversations": want a list, got number`, dataset.ErrValue, "record", 2},
		{"sharegpt nothing usable", "sg.json", `[{"conversations":[{"from":"gpt","value":"x"}]},{"conversations":[]}]`, nil, dataset.Options{},
			": no samples (2 conversations without a human turn skipped)", dataset.ErrEmpty, "", 0},
		{"csv empty prompt", "x.csv", "prompt,n\na,1\nb,2\n,3\n", nil, dataset.Options{}, ` row 3: column "prompt" is empty`, dataset.ErrEmpty, "row", 3},
		{"csv no column", "x.csv", "a,b\n1,2\n", nil, dataset.Options{}, `: no column "prompt" (columns: a, b)`, dataset.ErrNoColumn, "", 0},
		{"csv bad max_tokens", "x.csv", "prompt,max_tokens\na,1\nb,lots\n", nil, dataset.Options{}, ` row 2: column "max_tokens": want a non-negative integer, got "lots"`, dataset.ErrValue, "row", 2},
		{"csv bad token ids", "x.csv", "token_ids\n1 x\n", nil, dataset.Options{}, ` row 1: column "token_ids": want a list of integers, got "x"`, dataset.ErrValue, "row", 1},
		{"csv ragged", "x.csv", "prompt,n\na,1\nb\n", nil, dataset.Options{}, " line 3: invalid CSV: wrong number of fields", dataset.ErrSyntax, "line", 3},
		{"empty file", "x.jsonl", "\n\n", nil, dataset.Options{}, ": no samples", dataset.ErrEmpty, "", 0},
		{"unknown extension", "x.txt", "hello", nil, dataset.Options{}, `: cannot infer the format from extension ".txt"; set the format (jsonl, json, csv, parquet or sharegpt)`, dataset.ErrFormat, "", 0},
		{"unknown format", "x.jsonl", "{}", nil, dataset.Options{Format: "xml"}, `: unknown format "xml" (want jsonl, json, csv, parquet or sharegpt)`, dataset.ErrFormat, "", 0},
		{"negative limit", "x.jsonl", "{}", nil, dataset.Options{Limit: -1}, ": limit -1 is negative", dataset.ErrConfig, "", 0},
		{"parquet corrupt", "", "", corrupt, dataset.Options{}, ": invalid parquet: ...", dataset.ErrSyntax, "", 0},
		{"parquet no column", "", "", func(t *testing.T) string {
			return writeParquet(t, "x.parquet", []struct {
				A string `parquet:"a"`
				B int32  `parquet:"b"`
			}{{"x", 1}})
		}, dataset.Options{}, `: no column "prompt" (columns: a, b)`, dataset.ErrNoColumn, "", 0},
		{"parquet prompt not a string", "", "", func(t *testing.T) string {
			return writeParquet(t, "x.parquet", []struct {
				Prompt int32 `parquet:"prompt"`
			}{{7}})
		}, dataset.Options{}, ` row 1: column "prompt": want a string, got INT32 7`, dataset.ErrValue, "row", 1},
		{"parquet negative max_tokens", "", "", func(t *testing.T) string {
			return writeParquet(t, "x.parquet", []parquetRow{{Prompt: "a"}, {Prompt: "b", MaxTokens: -2}})
		}, dataset.Options{}, ` row 2: column "max_tokens": want a non-negative integer, got INT64 -2`, dataset.ErrValue, "row", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var path string
			switch {
			case tc.mk != nil:
				path = tc.mk(t)
			case tc.content == "":
				path = filepath.Join(t.TempDir(), tc.file)
			default:
				path = writeFile(t, tc.file, tc.content)
			}
			ds, err := dataset.Load(path, tc.opts)
			if err == nil {
				t.Fatalf("Load succeeded with %d samples; want an error", ds.Len())
			}
			want := "dataset " + path + tc.want
			if prefix, ok := strings.CutSuffix(want, "..."); ok {
				if !strings.HasPrefix(err.Error(), prefix) || len(err.Error()) <= len(prefix) {
					t.Errorf("error %q\nwant prefix %q and a cause", err, prefix)
				}
			} else if err.Error() != want {
				t.Errorf("error %q\nwant       %q", err, want)
			}
			if !errors.Is(err, tc.sentinel) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.sentinel)
			}
			var derr *dataset.Error
			if !errors.As(err, &derr) {
				t.Fatalf("error %T is not a *dataset.Error", err)
			}
			if derr.File != path || derr.Unit != tc.unit || derr.Line != tc.line {
				t.Errorf("File %q Unit %q Line %d; want %q %q %d", derr.File, derr.Unit, derr.Line, path, tc.unit, tc.line)
			}
		})
	}
}

func TestLoad_MissingFileIsNotExist(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"x.jsonl", "x.parquet", "x.csv"} {
		_, err := dataset.Load(filepath.Join(t.TempDir(), name), dataset.Options{})
		if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, dataset.ErrNotFound) {
			t.Errorf("%s: %v does not match fs.ErrNotExist and ErrNotFound", name, err)
		}
	}
}

// TestLoad_ShareGPTFixture checks the loader against an independent reading
// of testdata/sharegpt.json (written by testdata/gen.go) with encoding/json.
func TestLoad_ShareGPTFixture(t *testing.T) {
	t.Parallel()
	// 300 conversations; 19 have no usable human turn (system or assistant
	// only, empty, blank, no turns at all); 9 prompts repeat earlier ones.
	checkShareGPT(t, filepath.Join("testdata", "sharegpt.json"), 300, 281, 272)
}

// checkShareGPT loads a ShareGPT file and compares its samples with what
// encoding/json reads: the first human turn of each conversation, the system
// message before it and the assistant's reply after it; a conversation
// without a non-blank human turn is skipped. entries, usable and distinct are
// the counts the file's documentation gives (distinct 0: not checked).
func checkShareGPT(t *testing.T, path string, entries, usable, distinct int) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var recs []struct {
		Conversations []struct{ From, Value string }
	}
	if err := json.Unmarshal(raw, &recs); err != nil {
		t.Fatal(err)
	}
	var want []dataset.Sample
	for _, r := range recs {
		var system string
		for i, c := range r.Conversations {
			if c.From == "system" && system == "" {
				system = c.Value
			}
			if c.From != "human" {
				continue
			}
			if strings.TrimSpace(c.Value) != "" {
				s := dataset.Sample{Prompt: c.Value, System: system}
				if i+1 < len(r.Conversations) && r.Conversations[i+1].From == "gpt" {
					s.Expected = r.Conversations[i+1].Value
				}
				want = append(want, s)
			}
			break
		}
	}
	ds, err := dataset.Load(path, dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != entries || ds.Len() != usable || ds.Skipped != entries-usable {
		t.Errorf("entries %d, samples %d, skipped %d; want %d, %d, %d", len(recs), ds.Len(), ds.Skipped, entries, usable, entries-usable)
	}
	if diff := cmp.Diff(want, ds.Samples); diff != "" {
		t.Errorf("samples differ from encoding/json's reading (-want +got):\n%s", diff)
	}
	if distinct > 0 {
		seen := map[string]bool{}
		for _, s := range ds.Samples {
			seen[s.Prompt] = true
		}
		if len(seen) != distinct {
			t.Errorf("%d distinct prompts, want %d", len(seen), distinct)
		}
	}
}

// TestLoad_NewsFixture reads testdata/news.jsonl, rows shaped like
// CNN/DailyMail ({id, article, highlights}, multi-line highlights).
func TestLoad_NewsFixture(t *testing.T) {
	t.Parallel()
	checkNews(t, filepath.Join("testdata", "news.jsonl"), 100)
}

// checkNews checks that "article" is found as the prompt and "highlights" as
// the expected output, and that an explicit mapping swaps them.
func checkNews(t *testing.T, path string, rows int) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []dataset.Sample
	for line := range strings.Lines(string(raw)) {
		var r struct{ Article, Highlights string }
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		want = append(want, dataset.Sample{Prompt: r.Article, Expected: r.Highlights})
	}
	ds, err := dataset.Load(path, dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Len() != rows {
		t.Errorf("got %d samples, want %d", ds.Len(), rows)
	}
	if diff := cmp.Diff(want, ds.Samples); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// Explicit mapping: summarise the highlights, compare with the article.
	ds, err = dataset.Load(path, dataset.Options{PromptColumn: "highlights", ExpectedColumn: "article", Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Len() != 5 || ds.Samples[4].Prompt != want[4].Expected || ds.Samples[4].Expected != want[4].Prompt {
		t.Errorf("explicit mapping: got %d samples, sample 5 %.40q", ds.Len(), ds.Samples[4].Prompt)
	}
}

func TestLoad_RoundTripFormats(t *testing.T) {
	t.Parallel()
	src, err := dataset.Load(filepath.Join("testdata", "news.jsonl"), dataset.Options{Limit: 30})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Prompt   string `json:"prompt" parquet:"prompt"`
		Expected string `json:"expected" parquet:"expected"`
	}
	rows := make([]row, src.Len())
	var jsonl bytes.Buffer
	var csvb strings.Builder
	csvb.WriteString("prompt,expected\n")
	for i, s := range src.Samples {
		rows[i] = row{s.Prompt, s.Expected}
		b, _ := json.Marshal(rows[i])
		jsonl.Write(append(b, '\n'))
		csvb.WriteString(`"` + strings.ReplaceAll(s.Prompt, `"`, `""`) + `","` + strings.ReplaceAll(s.Expected, `"`, `""`) + "\"\n")
	}
	arr, _ := json.Marshal(rows)
	for _, path := range []string{
		writeFile(t, "rt.jsonl", jsonl.String()),
		writeFile(t, "rt.json", string(arr)),
		writeFile(t, "rt.csv", csvb.String()),
		writeParquet(t, "rt.parquet", rows),
	} {
		ds, err := dataset.Load(path, dataset.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(src.Samples, ds.Samples, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", filepath.Base(path), diff)
		}
	}
}

// TestLoad_RealShareGPT: counts of the real ShareGPT files in
// testdata/sharegpt-real (Apache-2.0; see its README).
func TestLoad_RealShareGPT(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file                      string
		entries, usable, distinct int
	}{
		{"ShareGPT_V3_filtered_500.json", 500, 500, 499},
		{"ShareGPT_V3_filtered_1000.json", 1000, 1000, 995},
		// 2978 entries: 16 system and 4 gpt first turns (single-turn, so no
		// human turn at all), and one empty human turn.
		{"sg_90k_part1_html_cleaned_lang_first_sampled_sorted.json", 2978, 2957, 0},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			checkShareGPT(t, filepath.Join("testdata", "sharegpt-real", tc.file), tc.entries, tc.usable, tc.distinct)
		})
	}
}
