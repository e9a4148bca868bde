package main

import (
	"math"
	"time"
)

// timeLayout is how times are printed: UTC, to the second.
const timeLayout = "2006-01-02 15:04:05 UTC"

// numericDate turns a NumericDate (seconds since the epoch) into a time.
func numericDate(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

// at prints t.
func at(t time.Time) string { return t.UTC().Format(timeLayout) }

// human prints a duration to the second ("3m12s", "2h0m5s", "0s").
func human(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	return d.Round(time.Second).String()
}

// relative says when t is, seen from now: "in 4m48s" or "3m12s ago".
func relative(t, now time.Time) string {
	if d := t.Sub(now); d >= 0 {
		return "in " + human(d)
	}
	return human(now.Sub(t)) + " ago"
}
