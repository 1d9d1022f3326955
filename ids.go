package evbill

import (
	"crypto/rand"
	"encoding/binary"
	"time"
)

// ID prefixes name the kind of record an ID belongs to, so a wrong ID in
// the wrong place is obvious in logs and errors.
const (
	PrefixTenant     = "ten"
	PrefixAPIKey     = "key"
	PrefixSite       = "site"
	PrefixStation    = "sta"
	PrefixConnector  = "con"
	PrefixTariff     = "trf"
	PrefixAssignment = "tas"
	PrefixGroup      = "grp"
	PrefixDriver     = "drv"
	PrefixToken      = "tok"
	PrefixSession    = "ses"
	PrefixCDR        = "cdr"
	PrefixEvent      = "evt"
	PrefixAccount    = "acc"
	PrefixEntry      = "ent"
	PrefixPayment    = "pay"
	PrefixRefund     = "rfd"
	// Webhook endpoints and deliveries (webhooks.go).
	PrefixWebhookEndpoint = "whe"
	PrefixWebhookDelivery = "whd"
)

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewID returns prefix_ followed by 26 characters: 48 bits of Unix
// milliseconds and 80 random bits in Crockford base32, so IDs sort by
// creation time (to the millisecond) and cursor pagination by ID is stable.
func NewID(prefix string) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	out := make([]byte, 0, len(prefix)+1+26)
	out = append(out, prefix...)
	out = append(out, '_')
	// 128 bits as 26 base32 digits: the first digit carries the top 3 bits.
	for i := 25; i >= 0; i-- {
		shift := uint(i * 5)
		var v uint64
		switch {
		case shift >= 64:
			v = hi >> (shift - 64)
		case shift == 0:
			v = lo
		default:
			v = lo>>shift | hi<<(64-shift)
		}
		out = append(out, crockford[v&31])
	}
	return string(out)
}
