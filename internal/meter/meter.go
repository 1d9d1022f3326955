// Package meter is a signing meter: it makes OCMF records as a
// calibration-law meter in a charger does (a reading, SHA-256 over the
// payload's bytes, ECDSA, the DER signature in hex), so that tests and the
// simulator can send what real chargers send and see it verified. It is
// not a meter anyone should bill by: its key lives in memory.
package meter

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Meter signs readings with one key. Its methods are safe for concurrent
// use.
type Meter struct {
	// Serial is the meter's serial number (MS), which ties its records to
	// its key.
	Serial string
	key    *ecdsa.PrivateKey
	der    []byte
	mu     sync.Mutex
	page   uint64 // the last pagination counter used (PG "T<n>")
}

// New makes a meter with a fresh key on the curve: elliptic.P256() for
// ECDSA-secp256r1-SHA256 records, elliptic.P384() for secp384r1.
func New(curve elliptic.Curve, serial string) (*Meter, error) {
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	return &Meter{Serial: serial, key: key, der: der}, nil
}

// PublicKeyHex is the meter's public key as the transparency software and
// evbill's stations API take it: the upper-case hex of its DER
// SubjectPublicKeyInfo.
func (m *Meter) PublicKeyHex() string { return strings.ToUpper(hex.EncodeToString(m.der)) }

// Algorithm is the record's SA for the meter's curve.
func (m *Meter) Algorithm() string {
	return "ECDSA-" + map[string]string{"P-256": "secp256r1", "P-384": "secp384r1"}[m.key.Curve.Params().Name] + "-SHA256"
}

// Sign returns the record of a payload: OCMF|payload|signature, the
// signature over the payload's bytes exactly as given.
func (m *Meter) Sign(payload string) (string, error) {
	digest := sha256.Sum256([]byte(payload))
	sig, err := ecdsa.SignASN1(rand.Reader, m.key, digest[:])
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(`OCMF|%s|{"SA":"%s","SD":"%s"}`, payload, m.Algorithm(), strings.ToUpper(hex.EncodeToString(sig))), nil
}

// Reason is a reading's TX: "B" at a transaction's begin, "E" at its end.
type Reason string

// The reasons a charger's transaction records carry.
const (
	Begin Reason = "B"
	End   Reason = "E"
)

// Reading returns a signed record of one reading of the energy import
// register (1-0:1.8.0) in Wh, in a transaction context with the next
// pagination counter, identifying the user by idTag: what a charger sends
// at a transaction's begin and end ("single reading" mode).
func (m *Meter) Reading(tx Reason, at time.Time, wh int64, idTag string) (string, error) {
	m.mu.Lock()
	m.page++
	page := m.page
	m.mu.Unlock()
	payload := fmt.Sprintf(`{"FV":"1.0","GI":"evbill meter","GS":"%s","GV":"1.0","PG":"T%d","MS":"%s","IS":true,"IL":"VERIFIED","IT":"ISO14443","ID":"%s","RD":[{"TM":"%s S","TX":"%s","RV":%d,"RI":"1-0:1.8.0","RU":"Wh","RT":"AC","EF":"","ST":"G"}]}`,
		m.Serial, page, m.Serial, idTag, at.UTC().Format("2006-01-02T15:04:05,000-0700"), tx, wh)
	return m.Sign(payload)
}
