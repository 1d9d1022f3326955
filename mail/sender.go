package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// ErrRefused marks an error of Send after which sending the same message
// again cannot help: the server answered the recipient or the message
// with a permanent (5xx) refusal, or the recipient's address is not one.
// Other errors (a connection, a timeout, a 4xx answer, a refused login)
// may pass.
var ErrRefused = errors.New("refused for good")

// Message is one receipt email, made by the worker from Render's output.
type Message struct {
	// To is the driver's address; ToName their name, "" for none.
	To     string
	ToName string
	// Subject is the subject line.
	Subject string
	// MessageID is the Message-ID without its angle brackets: derived from
	// the CDR (see MessageID), so a message sent twice is recognisably one.
	MessageID string
	// Date is the Date header; the sending time when zero.
	Date time.Time
	// Text and HTML are the two views of the body.
	Text string
	HTML string
	// PDF is attached as PDFName.
	PDF     []byte
	PDFName string
}

// MessageID returns the Message-ID of the receipt email of a CDR, in the
// domain of the From address: the same every time the CDR is mailed, so
// mail clients and servers can tell a resent receipt for a duplicate.
func MessageID(cdrID, from string) string {
	domain := "evbill.invalid"
	if a, err := netmail.ParseAddress(from); err == nil {
		if at := strings.LastIndexByte(a.Address, '@'); at >= 0 && at < len(a.Address)-1 {
			domain = a.Address[at+1:]
		}
	}
	return "receipt." + cdrID + "@" + domain
}

// Sender sends receipt emails through the configured SMTP server, one
// connection per message: receipts come one per charging session, too
// few for a pool to pay for itself.
type Sender struct {
	cfg  Config
	from *netmail.Address
}

// NewSender returns a Sender for the settings, after Config.Check.
func NewSender(cfg Config) (*Sender, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	from, err := cfg.fromAddress()
	if err != nil {
		return nil, err
	}
	return &Sender{cfg: cfg, from: from}, nil
}

// From returns the sender address as configured.
func (s *Sender) From() string { return s.cfg.From }

// Send hands one message to the SMTP server. It returns nil once the
// server accepted the message, even when the connection then fails to
// close cleanly: the message is the server's then, and sending it again
// would deliver it twice. An error wrapping ErrRefused will not pass on a
// later try.
func (s *Sender) Send(ctx context.Context, m Message) error {
	msg, err := s.message(m)
	if err != nil {
		return err
	}
	c, err := s.client()
	if err != nil {
		return err
	}
	err = c.DialAndSendWithContext(ctx, msg)
	if msg.IsDelivered() {
		return nil
	}
	if err == nil {
		return errors.New("mail: the server did not take the message")
	}
	var se *gomail.SendError
	if errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500 {
		switch se.Reason {
		case gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrSMTPDataClose:
			return fmt.Errorf("mail: %w: %v", ErrRefused, err)
		}
	}
	return fmt.Errorf("mail: %w", err)
}

func (s *Sender) message(m Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(s.from)
	if err := msg.AddToFormat(m.ToName, m.To); err != nil {
		return nil, fmt.Errorf("mail: %w: recipient %q: %v", ErrRefused, m.To, err)
	}
	msg.Subject(m.Subject)
	if m.MessageID != "" {
		msg.SetMessageIDWithValue(m.MessageID)
	} else {
		msg.SetMessageID()
	}
	if m.Date.IsZero() {
		msg.SetDate()
	} else {
		msg.SetDateWithValue(m.Date)
	}
	// RFC 3834: an automatic message, which vacation responders leave
	// unanswered.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	if len(m.PDF) > 0 {
		name := m.PDFName
		if name == "" {
			name = "receipt.pdf"
		}
		msg.AttachReadSeeker(name, bytes.NewReader(m.PDF), gomail.WithFileContentType("application/pdf"))
	}
	return msg, nil
}

func (s *Sender) client() (*gomail.Client, error) {
	opts := []gomail.Option{gomail.WithPort(s.cfg.Port), gomail.WithTimeout(s.cfg.Timeout)}
	switch s.cfg.TLS {
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.cfg.Username != "" {
		// Over TLS the strongest mechanism the server offers; without
		// it PLAIN, which go-mail sends only to a server on localhost,
		// so a password never crosses a network in clear.
		auth := gomail.SMTPAuthAutoDiscover
		if s.cfg.TLS == TLSNone {
			auth = gomail.SMTPAuthPlain
		}
		opts = append(opts, gomail.WithSMTPAuth(auth), gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	c, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("mail: SMTP client: %w", err)
	}
	return c, nil
}
