// Package ocmf reads and checks signed meter values in the Open Charge
// Metering Format (OCMF, shared/spec/ocmf/OCMF-en.md), the records a charger
// with a calibration-law meter signs so that a driver, an operator or the
// transparency software can check the energy billed against what the meter
// saw.
//
// A record is three sections separated by pipes:
//
//	OCMF|{payload JSON}|{signature JSON}
//
// The signature covers the payload section's bytes exactly as they were
// received, including any white space. So Parse keeps those bytes
// (Record.PayloadBytes) and Verify hashes them; nothing is ever re-serialised
// before verifying, since a byte written differently is a different payload.
//
// The flow is Parse, then Verify with the meter's public key (obtained out of
// band, as the specification requires), then CompareEnergy or
// CompareSessionEnergy against the energy billed. The comparison does not
// verify signatures itself: compare only records that Verify called Verified.
//
// The package is pure logic: no I/O, standard library only.
package ocmf
