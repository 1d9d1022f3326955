package ocpp

import (
	"errors"
	"sync"
	"time"
)

// Why a hand-written decoder for meter values: MeterValues is most of a
// charger's traffic (and StopTransaction repeats it as transactionData),
// and encoding/json spends about 14 µs on a typical one, seven times what
// validating it costs, allocating a string per enum field. The payload has
// passed the schema when this runs, so the decoder can trust its shape; it
// interns enum values (no allocation) and parses timestamps directly. A
// test and a fuzz target hold it equal to encoding/json.

var errShape = errors.New("ocpp: payload does not have the validated shape")

// enumIntern maps every enum value of the schemas to one shared string.
var enumIntern = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	var walk func(n *node, seen map[*node]bool)
	walk = func(n *node, seen map[*node]bool) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		for _, e := range n.enum {
			m[e] = e
		}
		for _, p := range n.props {
			walk(p.node, seen)
		}
		walk(n.items, seen)
	}
	seen := map[*node]bool{}
	set := schemas()
	for _, n := range set.req {
		walk(n, seen)
	}
	for _, n := range set.conf {
		walk(n, seen)
	}
	return m
})

// decodeMeterValuesReq decodes a validated MeterValues.req payload.
func decodeMeterValuesReq(payload []byte, req *MeterValuesReq) error {
	s := scanner{b: payload}
	return s.object(func(key []byte) error {
		switch string(key) {
		case "connectorId":
			n, err := s.int()
			req.ConnectorId = n
			return err
		case "transactionId":
			n, err := s.int()
			req.TransactionId = &n
			return err
		case "meterValue":
			mv, err := s.meterValues()
			req.MeterValue = mv
			return err
		}
		return errShape
	})
}

// object reads an object, calling field for each key with the scanner on
// its value.
func (s *scanner) object(field func(key []byte) error) error {
	if s.expect('{') != nil {
		return errShape
	}
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		s.ws()
		raw, esc, err := s.str()
		if err != nil || esc || s.expect(':') != nil {
			// Escaped keys do not name a property of ours either.
			return errShape
		}
		if err := field(raw); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return errShape
		}
	}
}

// array reads an array, calling elem for each element.
func (s *scanner) array(elem func() error) error {
	if s.expect('[') != nil {
		return errShape
	}
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return errShape
		}
	}
}

func (s *scanner) meterValues() ([]MeterValue, error) {
	var out []MeterValue
	err := s.array(func() error {
		var mv MeterValue
		err := s.object(func(key []byte) error {
			switch string(key) {
			case "timestamp":
				t, err := s.time()
				mv.Timestamp = t
				return err
			case "sampledValue":
				return s.array(func() error {
					var sv SampledValue
					err := s.object(func(key []byte) error {
						var err error
						switch string(key) {
						case "value":
							sv.Value, err = s.string()
						case "context":
							var v string
							v, err = s.enum()
							sv.Context = ReadingContext(v)
						case "format":
							var v string
							v, err = s.enum()
							sv.Format = ValueFormat(v)
						case "measurand":
							var v string
							v, err = s.enum()
							sv.Measurand = Measurand(v)
						case "phase":
							var v string
							v, err = s.enum()
							sv.Phase = Phase(v)
						case "location":
							var v string
							v, err = s.enum()
							sv.Location = Location(v)
						case "unit":
							var v string
							v, err = s.enum()
							sv.Unit = UnitOfMeasure(v)
						default:
							err = errShape
						}
						return err
					})
					mv.SampledValue = append(mv.SampledValue, sv)
					return err
				})
			}
			return errShape
		})
		out = append(out, mv)
		return err
	})
	return out, err
}

func (s *scanner) string() (string, error) {
	s.ws()
	raw, esc, err := s.str()
	if err != nil {
		return "", errShape
	}
	return stringOf(raw, esc), nil
}

func (s *scanner) enum() (string, error) {
	s.ws()
	raw, esc, err := s.str()
	if err != nil {
		return "", errShape
	}
	if !esc {
		if v, ok := enumIntern()[string(raw)]; ok {
			return v, nil
		}
	}
	return stringOf(raw, esc), nil
}

func (s *scanner) int() (int, error) {
	s.ws()
	lit, fracOrExp, err := s.number()
	if err != nil || fracOrExp || !fitsInt64(lit) {
		return 0, errShape
	}
	neg := lit[0] == '-'
	if neg {
		lit = lit[1:]
	}
	var n uint64
	for _, c := range lit {
		n = n*10 + uint64(c-'0')
	}
	if neg {
		return int(-n), nil
	}
	return int(n), nil
}

func (s *scanner) time() (time.Time, error) {
	s.ws()
	raw, esc, err := s.str()
	if err != nil {
		return time.Time{}, errShape
	}
	if esc {
		raw = unescape(nil, raw)
	}
	t, ok := parseDateTime(raw)
	if !ok {
		return time.Time{}, errShape
	}
	return t, nil
}

// zones caches the fixed zones of UTC offsets (at most 2 × 24 × 60), so
// that reading a timestamp with an offset does not allocate a Location.
var zones sync.Map // int (seconds east of UTC) → *time.Location

// parseDateTime reads a timestamp isDateTime accepts, as time.Time's
// UnmarshalJSON would: "Z" is UTC, an offset a fixed zone, fractions
// beyond nanoseconds truncated.
func parseDateTime(b []byte) (time.Time, bool) {
	if !isDateTime(b) {
		return time.Time{}, false
	}
	num := func(s []byte) int {
		n := 0
		for _, c := range s {
			n = n*10 + int(c-'0')
		}
		return n
	}
	ns := 0
	rest := b[19:]
	if rest[0] == '.' {
		i, scale := 1, 100_000_000
		for ; i < len(rest) && isDigit(rest[i]); i++ {
			ns += int(rest[i]-'0') * scale
			scale /= 10
		}
		rest = rest[i:]
	}
	loc := time.UTC
	if rest[0] != 'Z' {
		off := (num(rest[1:3])*60 + num(rest[4:6])) * 60
		if rest[0] == '-' {
			off = -off
		}
		if z, ok := zones.Load(off); ok {
			loc = z.(*time.Location)
		} else {
			z, _ := zones.LoadOrStore(off, time.FixedZone("", off))
			loc = z.(*time.Location)
		}
	}
	return time.Date(num(b[0:4]), time.Month(num(b[5:7])), num(b[8:10]),
		num(b[11:13]), num(b[14:16]), num(b[17:19]), ns, loc), true
}
