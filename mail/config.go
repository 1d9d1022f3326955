package mail

import (
	"fmt"
	"net"
	netmail "net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/evbill/evbill"
)

// The ways of securing the connection to the SMTP server (EVBILL_SMTP_TLS).
const (
	// TLSStartTLS connects in plain text and upgrades with STARTTLS, which
	// the server must offer: the submission port 587.
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte: port 465.
	TLSImplicit = "tls"
	// TLSNone never encrypts: for a relay on the same host or network.
	// Credentials are then sent only to a server on localhost.
	TLSNone = "none"
)

// The default ports: submission with STARTTLS, and submission over
// implicit TLS, where a server expecting STARTTLS on 587 would fail the
// handshake.
const (
	DefaultPort    = 587
	DefaultTLSPort = 465
)

// DefaultTimeout bounds a connection and each SMTP command: a server that
// hangs must not hold the worker's lease for long.
const DefaultTimeout = 30 * time.Second

// Config is how receipts reach the SMTP server, from EVBILL_SMTP_*
// environment variables (ConfigFromEnv).
type Config struct {
	Host string
	Port int
	// Username and Password authenticate when set (both or neither).
	Username string
	Password string
	// From is the sender of receipts: an address, with a display name or
	// without ("Example Charging <receipts@example.com>"). Its domain also
	// names the receipts' Message-IDs.
	From string
	// TLS is TLSStartTLS, TLSImplicit or TLSNone.
	TLS string
	// Timeout is DefaultTimeout when zero.
	Timeout time.Duration
}

// ConfigFromEnv reads the SMTP settings: EVBILL_SMTP_HOST,
// EVBILL_SMTP_PORT (587, or 465 with implicit TLS), EVBILL_SMTP_USERNAME,
// EVBILL_SMTP_PASSWORD, EVBILL_SMTP_FROM and EVBILL_SMTP_TLS (starttls,
// tls or none; starttls when unset). It returns the settings checked by
// Check, so that a mistake stops the server at its start, not at its
// first receipt.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		Host: strings.TrimSpace(getenv("EVBILL_SMTP_HOST")), Username: getenv("EVBILL_SMTP_USERNAME"),
		Password: getenv("EVBILL_SMTP_PASSWORD"), From: strings.TrimSpace(getenv("EVBILL_SMTP_FROM")),
		TLS: strings.ToLower(strings.TrimSpace(getenv("EVBILL_SMTP_TLS"))),
	}
	if c.TLS == "" {
		c.TLS = TLSStartTLS
	}
	if p := strings.TrimSpace(getenv("EVBILL_SMTP_PORT")); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Config{}, evbill.Errorf(evbill.EINVALID, "EVBILL_SMTP_PORT must be a port number from 1 to 65535, not %q", p)
		}
		c.Port = n
	}
	if c.Port == 0 {
		c.Port = DefaultPort
		if c.TLS == TLSImplicit {
			c.Port = DefaultTLSPort
		}
	}
	return c, c.Check()
}

// Check refuses settings that cannot send a receipt, naming the
// environment variable to fix (EINVALID).
func (c Config) Check() error {
	switch {
	case c.Host == "":
		return evbill.Errorf(evbill.EINVALID, "EVBILL_SMTP_HOST is required to send receipt emails")
	case strings.ContainsAny(c.Host, " /@[]") || strings.Contains(c.Host, ":") && net.ParseIP(c.Host) == nil:
		return evbill.Errorf(evbill.EINVALID, "EVBILL_SMTP_HOST must be a host name or IP address, not %q (the port goes in EVBILL_SMTP_PORT)", c.Host)
	case c.Port < 1 || c.Port > 65535:
		return evbill.Errorf(evbill.EINVALID, "EVBILL_SMTP_PORT must be a port number from 1 to 65535, not %d", c.Port)
	case c.TLS != TLSStartTLS && c.TLS != TLSImplicit && c.TLS != TLSNone:
		return evbill.Errorf(evbill.EINVALID, "EVBILL_SMTP_TLS must be starttls, tls or none, not %q", c.TLS)
	case (c.Username == "") != (c.Password == ""):
		return evbill.Errorf(evbill.EINVALID, "EVBILL_SMTP_USERNAME and EVBILL_SMTP_PASSWORD go together: set both or neither")
	case c.From == "":
		return evbill.Errorf(evbill.EINVALID, "EVBILL_SMTP_FROM is required: the address receipts are sent from")
	}
	if _, err := c.fromAddress(); err != nil {
		return err
	}
	return nil
}

// fromAddress parses From.
func (c Config) fromAddress() (*netmail.Address, error) {
	a, err := netmail.ParseAddress(c.From)
	if err != nil {
		return nil, evbill.Errorf(evbill.EINVALID, "EVBILL_SMTP_FROM must be an email address such as receipts@example.com or \"Name <receipts@example.com>\", not %q: %v", c.From, err)
	}
	if at := strings.LastIndexByte(a.Address, '@'); at <= 0 || at == len(a.Address)-1 {
		return nil, evbill.Errorf(evbill.EINVALID, "EVBILL_SMTP_FROM %q has no domain", c.From)
	}
	return a, nil
}

// String describes the settings without the password, for the log.
func (c Config) String() string {
	auth := "no auth"
	if c.Username != "" {
		auth = "user " + c.Username
	}
	return fmt.Sprintf("%s:%d (%s, %s) from %s", c.Host, c.Port, c.TLS, auth, c.From)
}
