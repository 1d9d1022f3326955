package ocmf

import (
	"fmt"
	"time"
)

// Time is a reading's TM: an instant with its UTC offset, to the
// millisecond, and the state of the meter's clock. The state matters for
// billing by time: only a synchronised (S) or relative (R) clock is
// accurate under calibration law.
type Time struct {
	// At is the instant, in the offset the meter wrote.
	At time.Time
	// Sync is the clock's synchronisation state.
	Sync SyncState
}

// SyncState is the letter after a reading's time (table 19).
type SyncState string

// The synchronisation states of table 19.
const (
	// SyncUnknown is a clock never synchronised.
	SyncUnknown SyncState = "U"
	// SyncInformative is an informative clock, not of calibration-law
	// accuracy.
	SyncInformative SyncState = "I"
	// SyncSynchronized is a synchronised clock.
	SyncSynchronized SyncState = "S"
	// SyncRelative is relative time accounting: the start came from an
	// informative clock, the duration was measured under calibration law.
	SyncRelative SyncState = "R"
)

const ocmfTimeLayout = "2006-01-02T15:04:05,000-0700"

// String formats the time as OCMF writes it, "2018-07-24T13:22:04,000+0200 S".
func (t Time) String() string {
	if t.At.IsZero() && t.Sync == "" {
		return ""
	}
	return t.At.Format(ocmfTimeLayout) + " " + string(t.Sync)
}

// ParseTime parses an OCMF time, "2018-07-24T13:22:04,000+0200 S": four
// digit year, two digit fields, three digit milliseconds, a signed four
// digit offset, a space and the clock's state. It checks the shape itself
// rather than trusting time.Parse, which would also take one-digit hours;
// a period is taken in place of the comma, as ISO 8601 allows both.
func ParseTime(s string) (Time, error) {
	const shape = "dddd-dd-ddTdd:dd:dd,ddd+dddd"
	bad := func() (Time, error) {
		return Time{}, fmt.Errorf("%q is not an OCMF time: want e.g. 2018-07-24T13:22:04,000+0200 S", s)
	}
	if len(s) == len(shape) {
		return Time{}, fmt.Errorf("%q has no clock state: want the time, a space and U, I, S or R", s)
	}
	if len(s) != len(shape)+2 || s[len(shape)] != ' ' {
		return bad()
	}
	for i := 0; i < len(shape); i++ {
		c := s[i]
		switch shape[i] {
		case 'd':
			if c < '0' || c > '9' {
				return bad()
			}
		case ',':
			if c != ',' && c != '.' {
				return bad()
			}
		case '+':
			if c != '+' && c != '-' {
				return bad()
			}
		default:
			if c != shape[i] {
				return bad()
			}
		}
	}
	sync := SyncState(s[len(s)-1:])
	switch sync {
	case SyncUnknown, SyncInformative, SyncSynchronized, SyncRelative:
	default:
		return Time{}, fmt.Errorf("%q: clock state %q is not one of U, I, S, R", s, string(sync))
	}
	num := func(from, to int) int {
		n := 0
		for i := from; i < to; i++ {
			n = n*10 + int(s[i]-'0')
		}
		return n
	}
	year, month, day := num(0, 4), num(5, 7), num(8, 10)
	hour, minute, sec, milli := num(11, 13), num(14, 16), num(17, 19), num(20, 23)
	offH, offM := num(24, 26), num(26, 28)
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) ||
		hour > 23 || minute > 59 || sec > 59 || offH > 23 || offM > 59 {
		return Time{}, fmt.Errorf("%q: a date or time field is out of range", s)
	}
	offset := offH*3600 + offM*60
	if s[23] == '-' {
		offset = -offset
	}
	at := time.Date(year, time.Month(month), day, hour, minute, sec, milli*int(time.Millisecond), time.FixedZone("", offset))
	return Time{At: at, Sync: sync}, nil
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
