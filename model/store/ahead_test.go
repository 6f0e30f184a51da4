package store

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
)

// TestAheadEncoderStaysWithinItsWindow: rows come back as encoded, in
// order, the encoder never runs more than aheadWindow rows past the last
// released, released rows are forgotten, and an encoding error reaches
// the row that failed and every later one.
func TestAheadEncoderStaysWithinItsWindow(t *testing.T) {
	const n = 5*aheadWindow + 17
	var released, furthest atomic.Int64
	a := encodeAhead(n, func(i int) (string, error) {
		if ahead := int64(i) - released.Load(); ahead > furthest.Load() {
			furthest.Store(ahead)
		}
		return fmt.Sprint("row ", i), nil
	})
	for i := range n {
		got, err := a.get(i)
		if err != nil || got != fmt.Sprint("row ", i) {
			t.Fatalf("row %d = %q, %v", i, got, err)
		}
		if i%64 == 63 {
			released.Store(int64(i + 1))
			a.release(i + 1)
		}
	}
	a.close()
	if f := furthest.Load(); f >= aheadWindow {
		t.Errorf("the encoder ran %d rows ahead, window %d", f, aheadWindow)
	}
	for i := range n - n%64 {
		if a.rows[i] != "" {
			t.Fatalf("row %d was released but is still held", i)
		}
	}

	bad := errors.New("cannot encode")
	a = encodeAhead(100, func(i int) (string, error) {
		if i == 40 {
			return "", bad
		}
		return "ok", nil
	})
	defer a.close()
	if got, err := a.get(39); err != nil || got != "ok" {
		t.Errorf("row 39 = %q, %v", got, err)
	}
	for _, i := range []int{40, 41, 99} {
		if _, err := a.get(i); !errors.Is(err, bad) {
			t.Errorf("row %d: %v, want the encoding error", i, err)
		}
	}
}

// TestAheadEncoderClosesEarly: a save that fails half-way closes its
// encoders, which stop although no row was released.
func TestAheadEncoderClosesEarly(t *testing.T) {
	var encoded atomic.Int64
	a := encodeAhead(10*aheadWindow, func(i int) (string, error) {
		encoded.Add(1)
		return "x", nil
	})
	a.get(0)
	a.close()
	if n := encoded.Load(); n > aheadWindow {
		t.Errorf("%d rows encoded with none released, window %d", n, aheadWindow)
	}
}
