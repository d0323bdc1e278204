//go:build race

package main

// raceEnabled says the tests run under the race detector, which multiplies
// memory use.
const raceEnabled = true
