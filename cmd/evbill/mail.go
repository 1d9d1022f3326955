package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/mail"
)

// startMail runs the receipt email worker until ctx ends, when
// EVBILL_SMTP_HOST is set; without it, nothing runs and no cursor is
// made, so switching email on later mails the CDRs from then on, not the
// history. The worker's queue and cursor are in the database, so any
// number of instances may run it and a restart loses nothing.
func startMail(ctx context.Context, store any, getenv func(string) string, log *slog.Logger) error {
	if getenv("EVBILL_SMTP_HOST") == "" {
		log.Info("receipt emails are off: EVBILL_SMTP_HOST is not set")
		return nil
	}
	cfg, err := mail.ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	sender, err := mail.NewSender(cfg)
	if err != nil {
		return err
	}
	s, ok := store.(mail.Store)
	if !ok {
		return evbill.Errorf(evbill.EINVALID, "the store keeps no receipt emails")
	}
	w := &mail.Worker{Store: s, Sender: sender, Log: log}
	// A receipt may leave a few seconds after its CDR: the tick is the
	// longest it waits for the outbox to be read.
	go w.Run(ctx, 5*time.Second)
	log.Info("receipt emails", "smtp", cfg.String())
	return nil
}
