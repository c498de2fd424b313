package triage

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"
)

// acceptedCauses reads Sisimai's reasons as our causes (the table of the corpus README);
// a reason not listed is not scored.
var acceptedCauses = map[string][]Cause{
	"userunknown": {InvalidRecipient}, "hostunknown": {InvalidRecipient}, "hasmoved": {InvalidRecipient},
	"notaccept": {InvalidRecipient}, "suspend": {InvalidRecipient},
	"blocked": {IPReputation, Blocklist}, "badreputation": {IPReputation, Blocklist},
	"requireptr":      {Authentication, IPReputation},
	"authfailure":     {Authentication},
	"securityerror":   {Authentication, TLS, RecipientPolicy},
	"failedstarttls":  {TLS},
	"spamdetected":    {Content}, "virusdetected": {Content}, "contenterror": {Content}, "notcompliantrfc": {Content},
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
