package dataset

import (
	"reflect"
	"strconv"
	"strings"
	"unsafe"

	"github.com/goccy/go-json"
)

// fastRow is the decode target of the fast path. Its layout must match the
// struct type built by newFastDecoder field for field.
type fastRow struct {
	Prompt    string
	System    string
	Expected  string
	MaxTokens int
	TokenIDs  []int32
}

// fastDecoder decodes records straight into a fastRow through a struct type
// whose JSON tags are the resolved column names, so goccy's compiled
// decoder fills the fields without a map or raw values per row. The type is
// built once per file; per row there is no reflection. Anything unusual (a
// type mismatch, a quoted number, an empty prompt) makes the caller redo
// that record on the map path, which produces the precise error or accepts
// it, so both paths give the same result.
type fastDecoder struct {
	row    fastRow
	target any // *fastRow seen through the tagged struct type
	slice  reflect.Type
}

// newFastDecoder returns nil when a column name cannot be a struct tag.
func newFastDecoder(c *columns) *fastDecoder {
	names := []string{c.prompt, c.system, c.expected, c.maxTokens, c.tokenIDs}
	rt := reflect.TypeFor[fastRow]()
	fields := make([]reflect.StructField, rt.NumField())
	for i := range fields {
		f := rt.Field(i)
		tag := `json:"-"`
		if n := names[i]; n != "" {
			if strings.ContainsAny(n, ",\"\\`") {
				return nil
			}
			tag = "json:" + strconv.Quote(n)
		}
		fields[i] = reflect.StructField{Name: f.Name, Type: f.Type, Tag: reflect.StructTag(tag)}
	}
	st := reflect.StructOf(fields)
	if st.Size() != rt.Size() {
		return nil
	}
	d := &fastDecoder{slice: reflect.SliceOf(st)}
	// Same field types in the same order give the same layout, so the
	// tagged type can view d.row's memory.
	d.target = reflect.NewAt(st, unsafe.Pointer(&d.row)).Interface()
	return d
}

// decode fills the next sample from one JSON object; ok is false when the
// record must go through the map path.
func (d *fastDecoder) decode(data []byte) (s Sample, ok bool) {
	d.row = fastRow{}
	if json.Unmarshal(data, d.target) != nil {
		return s, false
	}
	return d.row.sample()
}

// decodeAll decodes a JSON array of objects into rows.
func (d *fastDecoder) decodeAll(data []byte) ([]fastRow, error) {
	var rows []fastRow
	// The slice header and element layout match, as in newFastDecoder.
	target := reflect.NewAt(d.slice, unsafe.Pointer(&rows)).Interface()
	err := json.Unmarshal(data, target)
	return rows, err
}

func (r *fastRow) sample() (Sample, bool) {
	if strings.TrimSpace(r.Prompt) == "" && len(r.TokenIDs) == 0 || r.MaxTokens < 0 {
		return Sample{}, false
	}
	return Sample{Prompt: r.Prompt, System: r.System, Expected: r.Expected, MaxTokens: r.MaxTokens, TokenIDs: r.TokenIDs}, true
}
