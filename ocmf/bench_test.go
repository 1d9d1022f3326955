package ocmf

import (
	"testing"
)

// BenchmarkVerify measures one signature check as a billing run makes it:
// the key given as the hex text OCMF tools store, parsed on every call.
func BenchmarkVerify(b *testing.B) {
	keys(b)
	for _, bc := range []struct {
		name string
		key  testKey
		sa   string
	}{{"P-256", keyP256, AlgorithmP256}, {"P-384", keyP384, AlgorithmP384}} {
		b.Run(bc.name, func(b *testing.B) {
			r := mustParse(b, signedRecord(b, bc.key, bc.sa, "hex", payloadMR))
			key := bc.key.hex()
			b.ReportAllocs()
			for b.Loop() {
				if res := Verify(r, key); res.Outcome != Verified {
					b.Fatal(res)
				}
			}
		})
	}
}

// BenchmarkParse measures parsing the two-reading record of a session.
func BenchmarkParse(b *testing.B) {
	keys(b)
	rec := signedRecord(b, keyP256, AlgorithmP256, "hex", payloadMR)
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(rec); err != nil {
			b.Fatal(err)
		}
	}
}
