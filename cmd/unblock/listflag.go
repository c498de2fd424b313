package main

import (
	"strings"
	"unicode"

	"github.com/spf13/pflag"
)

// listValue is a flag of several values: repeated, or separated by commas, spaces or line
// breaks, so that --ip "$(cat ips.txt)" gives every line and none is dropped silently.
type listValue struct {
	v   *[]string
	set bool
}

func (l *listValue) Set(s string) error {
	if !l.set {
		*l.v, l.set = nil, true // the first value given replaces the default
	}
	*l.v = append(*l.v, strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })...)
	return nil
}

func (l *listValue) String() string { return strings.Join(*l.v, ",") }
func (l *listValue) Type() string   { return "strings" }

// listVar defines a list flag.
func listVar(fs *pflag.FlagSet, p *[]string, name, usage string) {
	fs.Var(&listValue{v: p}, name, usage)
}
