package dialer

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"
)

// TestGuardRefusesNonLoopback: the guard lets 127.0.0.0/8 and ::1 through and refuses
// and records everything else, without sending a packet.
func TestGuardRefusesNonLoopback(t *testing.T) {
	GuardLoopback()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := Dial(context.Background(), "tcp", l.Addr().String(), time.Second)
	if err != nil {
		t.Fatalf("loopback refused: %v", err)
	}
	c.Close()
	for _, a := range []string{"192.0.2.25:25", "10.0.0.1:25", "[2001:db8::1]:25", "mx.example.com:25"} {
		if _, err := Dial(context.Background(), "tcp", a, time.Second); err == nil {
			t.Errorf("%s: dialed", a)
		}
		if !slices.Contains(Refused(), a) {
			t.Errorf("%s: not recorded", a)
		}
	}
	mu.Lock()
	refused = nil
	mu.Unlock()
}

func TestBlackholeHoldsUntilTimeout(t *testing.T) {
	defer Blackhole()()
	start := time.Now()
	_, err := Dial(context.Background(), "tcp", "127.0.0.1:9", 100*time.Millisecond)
	if err == nil || time.Since(start) < 90*time.Millisecond || time.Since(start) > time.Second {
		t.Errorf("blackhole: %v after %v", err, time.Since(start))
	}
}
