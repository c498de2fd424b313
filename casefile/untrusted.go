package casefile

import (
	"reflect"

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
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				sanitizeValue(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			sanitizeValue(v.Index(i))
		}
	}
}
