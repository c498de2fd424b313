package triage

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// acceptedCauses reads Sisimai's reasons as our causes (the table of the corpus README);
// a reason not listed is not scored.
var acceptedCauses = map[string][]Cause{
	"userunknown": {InvalidRecipient}, "hostunknown": {InvalidRecipient}, "hasmoved": {InvalidRecipient},
	"notaccept": {InvalidRecipient}, "suspend": {InvalidRecipient},
	"blocked": {IPReputation, Blocklist}, "badreputation": {IPReputation, Blocklist},
	"requireptr":     {Authentication, IPReputation},
	"authfailure":    {Authentication},
	"securityerror":  {Authentication, TLS, RecipientPolicy},
	"failedstarttls": {TLS},
	"spamdetected":   {Content}, "virusdetected": {Content}, "contenterror": {Content}, "notcompliantrfc": {Content},
	"filtered":        {Content, RecipientPolicy, InvalidRecipient},
	"policyviolation": {Content, RecipientPolicy},
	"rejected":        {RecipientPolicy, DomainReputation, Authentication, Other},
	"norelaying":      {RecipientPolicy, Other},
	"toomanyconn":     {RateLimit}, "speeding": {RateLimit},
	"mailboxfull": {Other}, "exceedlimit": {Other}, "mesgtoobig": {Other}, "systemfull": {Other},
}

// readTSV reads a corpus table: a header row, then tab-separated rows.
func readTSV(t testing.TB, name string) (header []string, rows [][]string) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if header == nil {
			header = cols
			continue
		}
		rows = append(rows, cols)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return header, rows
}

// Our cause agrees with Sisimai's reason on at least 90% of the scored reply texts.
func TestCorpusReplies(t *testing.T) {
	_, rows := readTSV(t, "testdata/replies/sisimai-diagnostic-texts.tsv")
	scored, agreed := 0, 0
	for _, row := range rows {
		if len(row) < 7 {
			t.Fatalf("short row %q", row)
		}
		want, ok := acceptedCauses[row[2]]
		if !ok {
			continue
		}
		scored++
		f := ClassifyReply(row[6])
		if slices.Contains(want, f.Cause) {
			agreed++
			continue
		}
		t.Logf("accepted disagreement: %s #%s %s → %s (%s): %.160s", row[0], row[1], row[2], f.Cause, f.Control, row[6])
	}
	ratio := float64(agreed) / float64(scored)
	t.Logf("replies: %d of %d scored rows agree (%.1f%%)", agreed, scored, 100*ratio)
	if scored < 400 || ratio < 0.90 {
		t.Errorf("replies: %d of %d agree (%.1f%%), want ≥ 90%%", agreed, scored, 100*ratio)
	}
}

// Every bounce of the corpus is read without error, and our cause agrees with Sisimai's
// reason on at least 95% of the scored rows of expected.tsv.
func TestCorpusBounces(t *testing.T) {
	files, err := filepath.Glob("testdata/sisimai/bsd/*.eml")
	if err != nil || len(files) < 600 {
		t.Fatalf("corpus: %d files, %v", len(files), err)
	}
	found := map[string][]Finding{}
	for _, name := range files {
		rep, err := ReadPath(context.Background(), name, Options{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		found[filepath.Base(name)] = rep.Findings
	}
	_, rows := readTSV(t, "testdata/sisimai/expected.tsv")
	scored, agreed := 0, 0
	for _, row := range rows {
		want, ok := acceptedCauses[row[2]]
		if !ok {
			continue
		}
		scored++
		fs := found[filepath.Base(row[0])]
		i, _ := strconv.Atoi(row[1])
		// Rows are per recipient; when the reply names the address, match on it rather
		// than on the order, which Sisimai may keep differently.
		for _, a := range addressesIn(lowerASCII(row[8])) {
			for j, f := range fs {
				if f.Recipient == a {
					i = j + 1
				}
			}
		}
		if i >= 1 && i <= len(fs) && slices.Contains(want, fs[i-1].Cause) {
			agreed++
			continue
		}
		got := "(no finding)"
		if i >= 1 && i <= len(fs) {
			got = fmt.Sprintf("%s (%s) from %.140q", fs[i-1].Cause, fs[i-1].Control, fs[i-1].Text)
		}
		t.Logf("accepted disagreement: %s #%s %s → %s", filepath.Base(row[0]), row[1], row[2], got)
	}
	ratio := float64(agreed) / float64(scored)
	t.Logf("bounces: %d of %d scored rows agree (%.1f%%)", agreed, scored, 100*ratio)
	if scored < 450 || ratio < 0.95 {
		t.Errorf("bounces: %d of %d agree (%.1f%%), want ≥ 95%%", agreed, scored, 100*ratio)
	}
}
