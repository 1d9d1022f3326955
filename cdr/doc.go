// Package cdr reads and writes OCPI 2.2.1 CDRs (Charge Detail Records) for
// pricing: Parse extracts the session a tariff prices, AppendPriced writes
// the CDR back with evbill's costs spliced in, and PriceStream does both
// for an NDJSON stream on several cores.
//
// # Parsing
//
// Parse does not use encoding/json: a hand-written scanner validates the
// whole document (strings with every escape, numbers per the RFC 8259
// grammar, literals, nesting up to MaxDepth, no trailing data) in one pass
// and records only the byte offsets of what AppendPriced must copy. Parsing
// a CDR into a reused CDR value therefore allocates nothing, and takes less
// time than json.Valid alone. Strings must be valid UTF-8, as RFC 8259 requires of JSON
// exchanged between systems: a CDR with invalid UTF-8 is rejected rather
// than passed on, because AppendPriced copies members verbatim. A lone
// UTF-16 surrogate escape (\ud800) is grammatical JSON and is accepted.
//
// Malformed JSON is always reported as a *SyntaxError with its byte
// offset, even when the document also breaks a CDR rule earlier on;
// otherwise the first broken rule is reported as a *FieldError with the
// member's JSON path. Numbers are read exactly with money.ParseDecimal; a
// number that needs more than 19 significant digits or 19 decimal places
// is refused, never rounded. A member that evbill interprets may appear
// only once. An optional member given as null counts as absent.
//
// The dimensions of each charging period become a tariff.Period: ENERGY in
// kWh; TIME, PARKING_TIME and RESERVATION_TIME from hours to seconds
// (× 3600, exactly); MIN_CURRENT, MAX_CURRENT in A; MIN_POWER, MAX_POWER in
// kW. The session-only types (CURRENT, ENERGY_EXPORT, ENERGY_IMPORT, POWER,
// STATE_OF_CHARGE) are accepted and ignored. Negative ENERGY or time
// volumes, which mean vehicle-to-grid export, are refused: evbill does not
// bill them.
//
// # Derived charging time
//
// Many CDRs report only ENERGY per period, yet a TIME or PARKING_TIME
// tariff needs durations. When no period reports TIME or PARKING_TIME,
// Parse derives them from the clock:
//
//   - a period lasts from its start_date_time to the next period's, the
//     last one to the CDR's end_date_time;
//   - the last total_parking_time hours before end_date_time are parking
//     (PARKING_TIME), everything before is charging (TIME); without
//     total_parking_time everything is charging;
//   - the period in which parking starts is split in two at that instant:
//     a charging part that keeps the ENERGY and a parking part without it,
//     both with the period's other dimensions;
//   - a period that reports RESERVATION_TIME is reserved time, neither
//     charging nor parking, and must not overlap the parking time.
//
// total_parking_time is rounded to the nanosecond and must not exceed the
// session's duration. CDR.Derived reports that this happened; AppendPriced
// then writes the priced periods out in full (see AppendPriced).
package cdr
