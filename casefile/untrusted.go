package casefile

import (
	"reflect"
	"sync"

	"github.com/unblock-mail/unblock/sanitize"
)

// sanitizeCase makes every string of a case read from disk safe to show: a case file is
// text from outside (a person may have edited it, or been sent it). Multi-line fields keep
// their newlines; anything that could act on a terminal is made visible. Clean files come
// out identical, so load-then-save still rewrites the same bytes.
func sanitizeCase(c *Case) { sanitizeValue(reflect.ValueOf(c).Elem()) }

func sanitizeValue(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if s := v.String(); !sanitize.Clean(s) && v.CanSet() {
			v.SetString(sanitize.Text(s))
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			sanitizeValue(v.Elem())
		}
	case reflect.Struct:
		for _, i := range textFields(v.Type()) {
			sanitizeValue(v.Field(i))
		}
	case reflect.Slice, reflect.Array:
		if !holdsText(v.Type().Elem()) {
			return
		}
		for i := 0; i < v.Len(); i++ {
			sanitizeValue(v.Index(i))
		}
	}
}

// textFields are the exported fields of a struct type that can hold a string, worked out
// once per type: a timeline of 100,000 events is walked without asking reflect about
// every field of every event.
func textFields(t reflect.Type) []int {
	if f, ok := fieldPlans.Load(t); ok {
		return f.([]int)
	}
	fieldPlans.Store(t, []int(nil)) // a type that refers to itself stops here
	var out []int
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); f.IsExported() && holdsText(f.Type) {
			out = append(out, i)
		}
	}
	fieldPlans.Store(t, out)
	return out
}

var fieldPlans sync.Map // reflect.Type → []int

// holdsText reports whether a value of type t can contain a string (time.Time cannot:
// its fields are unexported).
func holdsText(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return holdsText(t.Elem())
	case reflect.Struct:
		return len(textFields(t)) > 0
	}
	return false
}
