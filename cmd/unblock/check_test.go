package main

import (
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/unblock-mail/unblock/checks/dnstest"
)

// scriptCmds are the commands the scripts get beyond testscript's own.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"dns": cmdDNS,
}

// cmdDNS starts a loopback DNS server for the rest of the script and sets $DNS to its
// address:
//
//	dns [-hang NAME]... [-servfail NAME]... [-delay DURATION] ZONEFILE
//
// ZONEFILE is master-file text in the script's work directory.
func cmdDNS(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("dns cannot be negated")
	}
	var hang, servfail []string
	var delay time.Duration
	for len(args) > 1 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-hang":
			hang = append(hang, args[1])
		case "-servfail":
			servfail = append(servfail, args[1])
		case "-delay":
			d, err := time.ParseDuration(args[1])
			ts.Check(err)
			delay = d
		default:
			ts.Fatalf("dns: unknown option %s", args[0])
		}
		args = args[2:]
	}
	if len(args) != 1 {
		ts.Fatalf("usage: dns [-hang NAME]... [-servfail NAME]... [-delay D] ZONEFILE")
	}
	srv, err := dnstest.New(ts.ReadFile(args[0]))
	ts.Check(err)
	ts.Defer(srv.Close)
	for _, n := range hang {
		srv.Hang(n)
	}
	for _, n := range servfail {
		srv.ServFail(n)
	}
	srv.SetDelay(delay)
	ts.Setenv("DNS", srv.Addr)
}
