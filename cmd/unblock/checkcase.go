package main

// check --case: the checks for a case's identifiers, recorded in the case exactly as the
// TUI's checks screen records them (casefile.CheckTarget and RecordChecksFor), so that a
// script or a cron job refreshes the authentication status before an update.

import (
	"fmt"
	"slices"

	"github.com/unblock-mail/unblock/casefile"
	"github.com/unblock-mail/unblock/checks"
)

// caseTarget is the case's target with the identity flags given laid over it: --ip,
// --domain, --helo, --recipient-domain and --smtp-host override, --selector adds.
func (f *checkFlags) caseTarget(a *app) (checks.Target, error) {
	s, err := a.store()
	if err != nil {
		return checks.Target{}, err
	}
	c, err := a.findCase(s, f.caseRef)
	if err != nil {
		return checks.Target{}, err
	}
	t := c.CheckTarget()
	given := *f
	given.message = ""
	if given.ip == "" && given.domain == "" && given.helo == "" {
		// checkTarget wants one identity; the case has them. The placeholder is
		// validated and then ignored.
		given.domain = "case.invalid"
	}
	over, err := given.checkTarget()
	if err != nil {
		return checks.Target{}, err
	}
	if f.ip != "" {
		t.IP = over.IP
	}
	if f.domain != "" {
		t.Domain = over.Domain
		if over.EnvelopeSender != "" {
			t.EnvelopeSender = over.EnvelopeSender
		}
	}
	if f.helo != "" {
		t.HELO = over.HELO
	}
	for _, sel := range over.Selectors {
		if !slices.Contains(t.Selectors, sel) {
			t.Selectors = append(t.Selectors, sel)
		}
	}
	if f.recipientDomain != "" {
		t.RecipientDomain = over.RecipientDomain
	}
	if f.smtpHost != "" {
		t.SMTPHost = over.SMTPHost
	}
	if !t.IP.IsValid() && t.Domain == "" && f.message == "" {
		return t, badInput("case %s has no sending IP or domain: give --ip or --domain (or record them with unblock set)", c.ID)
	}
	return t, nil
}

// recordInCase records the run's results in the case, under its lock.
func (f *checkFlags) recordInCase(a *app, t checks.Target, results []checks.Result) error {
	s, err := a.store()
	if err != nil {
		return err
	}
	c, err := a.edit(s, f.caseRef, func(c *casefile.Case) error {
		c.RecordChecksFor(t, results, now())
		return nil
	})
	if err != nil {
		return err
	}
	if !f.json {
		fmt.Fprintf(a.stdout, "recorded in case %s\n", c.ID)
	}
	return nil
}
