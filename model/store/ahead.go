package store

import (
	"bytes"
	"encoding/json"
	"sync"
)

// aheadWindow is how many rows an aheadEncoder encodes beyond the last row
// inserted: eight batches, so SQLite never waits, and few enough that a
// table's JSON is not all in memory at once. The encoders of the four
// largest tables start together, and a row of one element's findings or
// controls is about 2 KB: a window of 2048 rows held 10 MB more at the
// peak of a scan of 500 copies of Online Boutique, for no less CPU.
const aheadWindow = 8 * batchRows

// aheadEncoder encodes the JSON column of one table's rows on another
// goroutine while the writer inserts earlier rows, and forgets each row
// once it is inserted. SQLite's work is single-threaded and encoding is
// not, so together they use two cores; and the JSON of a large scan (the
// controls and findings of a 300,000-object input are over a gigabyte of
// it) is never held whole.
type aheadEncoder struct {
	mu       sync.Mutex
	cond     sync.Cond
	rows     []string
	encoded  int   // rows [0, encoded) are encoded
	released int   // rows [0, released) are inserted and forgotten
	err      error // encoding stopped at row encoded
	stop     bool
	done     chan struct{}
}

// encodeAhead starts encoding n rows with encode, which must only read.
// Call close before the data encode reads may change.
func encodeAhead(n int, encode func(i int) (string, error)) *aheadEncoder {
	a := &aheadEncoder{rows: make([]string, n), done: make(chan struct{})}
	a.cond.L = &a.mu
	go func() {
		defer close(a.done)
		for i := range n {
			a.mu.Lock()
			for i-a.released >= aheadWindow && !a.stop {
				a.cond.Wait()
			}
			stop := a.stop
			a.mu.Unlock()
			if stop {
				return
			}
			s, err := encode(i)
			a.mu.Lock()
			if err != nil {
				a.err = err
			} else {
				a.rows[i], a.encoded = s, i+1
			}
			a.cond.Broadcast()
			a.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return a
}

// encodeJSON is encodeAhead for rows encoded as JSON, without HTML
// escaping, as the writer encodes the rest.
func encodeJSON(n int, item func(i int) any) *aheadEncoder {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	return encodeAhead(n, func(i int) (string, error) {
		buf.Reset()
		if err := enc.Encode(item(i)); err != nil {
			return "", err
		}
		return string(bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})), nil
	})
}

// get returns row i, waiting until it is encoded. Rows are read from the
// first one not released.
func (a *aheadEncoder) get(i int) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for a.encoded <= i && a.err == nil {
		a.cond.Wait()
	}
	if a.encoded <= i { // encoding failed on row i or before it
		return "", a.err
	}
	return a.rows[i], nil
}

// release forgets rows [0, upTo), which are inserted, and lets the encoder
// go on.
func (a *aheadEncoder) release(upTo int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for ; a.released < upTo; a.released++ {
		a.rows[a.released] = ""
	}
	a.cond.Broadcast()
}

// close stops the encoder and waits for it, so a save never returns while
// it still reads the scan.
func (a *aheadEncoder) close() {
	a.mu.Lock()
	a.stop = true
	a.cond.Broadcast()
	a.mu.Unlock()
	<-a.done
}
