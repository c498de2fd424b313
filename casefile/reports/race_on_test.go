//go:build race

package reports

// raceEnabled scales the largest tests down under the race detector, which slows XML
// decoding some thirty times; the README's go test ./... runs them at full size.
const raceEnabled = true
