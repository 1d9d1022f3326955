//go:build race

package cdr

const raceEnabled = true
