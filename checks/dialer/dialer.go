// Package dialer is the one door the checks open TCP connections through (the SMTP probe,
// the MTA-STS policy fetch), so that tests can hold every check to loopback: a test that
// dials a TEST-NET, private or public address is a test that reaches outside the machine.
package dialer

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

var (
	mu       sync.Mutex
	guarded  bool
	refused  []string
	blocking func(ctx context.Context) // tests: stands in for a network that drops SYNs
)

// Dial connects to addr (host:port with an IP address) within timeout (0: none but ctx's).
func Dial(ctx context.Context, network, addr string, timeout time.Duration) (net.Conn, error) {
	return DialFrom(ctx, network, netip.Addr{}, addr, timeout)
}

// DialFrom is Dial from the local address from (the sending IP a probe binds; the
// zero Addr lets the system choose).
func DialFrom(ctx context.Context, network string, from netip.Addr, addr string, timeout time.Duration) (net.Conn, error) {
	mu.Lock()
	g, hold := guarded, blocking
	mu.Unlock()
	if g {
		if err := loopbackOnly(addr); err != nil {
			mu.Lock()
			refused = append(refused, addr)
			mu.Unlock()
			// Said at once, so that go test -v shows which test dialed.
			fmt.Fprintf(os.Stderr, "dialer guard: refused %s\n", addr)
			return nil, err
		}
	}
	if hold != nil {
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		hold(ctx)
		return nil, &net.OpError{Op: "dial", Net: network, Err: ctx.Err()}
	}
	d := net.Dialer{Timeout: timeout}
	if from.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: from.AsSlice()}
	}
	return d.DialContext(ctx, network, addr)
}

func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("dialer guard: %q is not host:port", addr)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Unmap().IsLoopback() {
		return fmt.Errorf("dialer guard: tests dial loopback only, not %s", addr)
	}
	return nil
}

// GuardLoopback makes every later Dial to a non-loopback address fail and be recorded;
// TestMain calls it and fails the run when Refused is not empty afterwards.
func GuardLoopback() {
	mu.Lock()
	guarded = true
	mu.Unlock()
}

// Refused lists the addresses a guarded Dial refused.
func Refused() []string {
	mu.Lock()
	defer mu.Unlock()
	return append([]string(nil), refused...)
}

// Blackhole makes Dial wait until its timeout or ctx ends, as a firewall that drops
// packets does, until the returned function is called. Tests only.
func Blackhole() (restore func()) {
	mu.Lock()
	blocking = func(ctx context.Context) { <-ctx.Done() }
	mu.Unlock()
	return func() {
		mu.Lock()
		blocking = nil
		mu.Unlock()
	}
}

// TestMain runs a package's tests with the loopback guard on, and fails the run (exit 1)
// naming every address a test tried to dial elsewhere. Use: os.Exit(dialer.TestMain(m)).
func TestMain(m interface{ Run() int }) int {
	GuardLoopback()
	code := m.Run()
	if r := Refused(); len(r) > 0 {
		fmt.Printf("FAIL: tests dialed outside loopback: %v\n", r)
		return 1
	}
	return code
}
