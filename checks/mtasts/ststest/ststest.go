// Package ststest serves MTA-STS policies over HTTPS on loopback (httptest) with a
// certificate for the policy host, and gives the client that reaches it.
package ststest

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/checks/smtpprobe/smtptest"
)

// Server serves handler over HTTPS with a certificate valid for names, and returns
// a client that reaches the server whatever host it asks for and trusts that
// certificate (so a certificate for another name is a real verification failure).
func Server(tb testing.TB, handler http.Handler, names ...string) *http.Client {
	tb.Helper()
	now := time.Now()
	cert, pool := smtptest.Cert(tb, names[0], now.Add(-time.Hour), now.Add(time.Hour), names[1:]...)
	s := httptest.NewUnstartedServer(handler)
	s.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	// Refused handshakes are what some tests are about; keep them out of the log.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	tb.Cleanup(s.Close)
	addr := s.Listener.Addr().String()
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}}
}
