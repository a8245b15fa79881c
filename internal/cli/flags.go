package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// Flags over --config work the same way in every command that has both: the
// flags are defined once, by a function that binds each to its field of the
// configuration. The command's own set parses the command line; at run time
// a scratch set is bound to the configuration read from the file, and the
// flags the user gave are replayed into it (replayFlags). So a flag only
// overrides the file when it was given, and needs no code of its own.
//
// Flags whose text needs parsing are the pflag.Value types below: a replayed
// flag goes through the same Set as the command line, and so the same errors.

// replayFlags sets, in scratch, every flag that was given in given and that
// scratch also defines, to the value it was given. Repeatable flags (pflag
// SliceValue) are replayed element by element, so they add to the file's
// values as they add to each other.
func replayFlags(given, scratch *pflag.FlagSet) error {
	var errs []error
	given.Visit(func(f *pflag.Flag) {
		if scratch.Lookup(f.Name) == nil {
			return
		}
		vals := []string{f.Value.String()}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			vals = sv.GetSlice()
		}
		for _, v := range vals {
			if err := scratch.Set(f.Name, v); err != nil {
				errs = append(errs, err)
			}
		}
	})
	return errors.Join(errs...)
}

// onOffValue is a bool flag that takes on/off (or true/false) as its value,
// e.g. --streaming off.
type onOffValue struct{ p *bool }

func (v onOffValue) Set(s string) error {
	switch s {
	case "on", "true":
		*v.p = true
	case "off", "false":
		*v.p = false
	default:
		return errors.New("want on or off")
	}
	return nil
}

func (v onOffValue) String() string {
	if v.p != nil && *v.p {
		return "on"
	}
	return "off"
}

func (v onOffValue) Type() string { return "string" }

// optFloatValue sets a *float64 that stays nil (not sent) unless given.
type optFloatValue struct{ p **float64 }

func (v optFloatValue) Set(s string) error {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return fmt.Errorf("want a number")
	}
	*v.p = &f
	return nil
}

func (v optFloatValue) String() string {
	if v.p == nil || *v.p == nil {
		return ""
	}
	return strconv.FormatFloat(**v.p, 'g', -1, 64)
}

func (v optFloatValue) Type() string { return "float64" }

// jsonObjectValue merges a JSON object into a map: the keys it gives replace
// the map's, the others stay (so --extra-body adds to the file's extra_body).
type jsonObjectValue struct {
	p   *map[string]any
	raw string
}

func (v *jsonObjectValue) Set(s string) error {
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return fmt.Errorf("want a JSON object: %v", err)
	}
	if *v.p == nil {
		*v.p = map[string]any{}
	}
	for k, x := range m {
		(*v.p)[k] = x
	}
	v.raw = s
	return nil
}

func (v *jsonObjectValue) String() string { return v.raw }
func (v *jsonObjectValue) Type() string   { return "string" }

// headerValue is a repeatable NAME:VALUE flag that adds to a header map (a
// name given again replaces the earlier value, from the file or a flag).
type headerValue struct {
	p     *map[string]string
	given []string
}

func (v *headerValue) Set(s string) error {
	k, val, ok := strings.Cut(s, ":")
	if !ok || strings.TrimSpace(k) == "" {
		return errors.New("want NAME:VALUE")
	}
	if *v.p == nil {
		*v.p = map[string]string{}
	}
	(*v.p)[strings.TrimSpace(k)] = strings.TrimSpace(val)
	v.given = append(v.given, s)
	return nil
}

// String is "" when none was given, so that --help shows no default.
func (v *headerValue) String() string {
	if len(v.given) == 0 {
		return ""
	}
	return "[" + strings.Join(v.given, ",") + "]"
}

func (v *headerValue) Type() string { return "stringArray" }

// GetSlice, Append and Replace make headerValue a pflag.SliceValue, so that
// replayFlags replays every occurrence.
func (v *headerValue) GetSlice() []string    { return append([]string(nil), v.given...) }
func (v *headerValue) Append(s string) error { return v.Set(s) }
func (v *headerValue) Replace(ss []string) error {
	*v.p, v.given = nil, nil
	for _, s := range ss {
		if err := v.Set(s); err != nil {
			return err
		}
	}
	return nil
}

// funcValue is a flag whose Set and String are functions, for flags that
// write more than one field (e.g. --seed sets both seeds, --dataset clears
// the synthetic generator).
type funcValue struct {
	set  func(string) error
	get  func() string
	kind string
}

func (v funcValue) Set(s string) error { return v.set(s) }
func (v funcValue) String() string {
	if v.get == nil {
		return ""
	}
	return v.get()
}
func (v funcValue) Type() string { return v.kind }

// boolFuncValue is a funcValue that needs no argument (--no-tui).
type boolFuncValue struct{ funcValue }

// IsBoolFlag tells pflag that the flag takes no value.
func (boolFuncValue) IsBoolFlag() bool { return true }

// listValue is a repeatable flag whose occurrences make a list: the first
// one given replaces the list (from the file or the default), later ones
// add to it (--server-metrics URL --server-metrics URL2).
type listValue struct {
	p     *[]string
	given []string
}

func (v *listValue) Set(s string) error {
	if len(v.given) == 0 {
		*v.p = nil
	}
	*v.p = append(*v.p, s)
	v.given = append(v.given, s)
	return nil
}

// String is "" when none was given, so that --help shows no default.
func (v *listValue) String() string {
	if len(v.given) == 0 {
		return ""
	}
	return "[" + strings.Join(v.given, ",") + "]"
}

func (v *listValue) Type() string { return "stringArray" }

// GetSlice, Append and Replace make listValue a pflag.SliceValue, so that
// replayFlags replays every occurrence.
func (v *listValue) GetSlice() []string    { return append([]string(nil), v.given...) }
func (v *listValue) Append(s string) error { return v.Set(s) }
func (v *listValue) Replace(ss []string) error {
	v.given = nil
	for _, s := range ss {
		if err := v.Set(s); err != nil {
			return err
		}
	}
	return nil
}
