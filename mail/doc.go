// Package mail sends drivers their receipts by email: the receipt of
// each CDR as plain text and HTML with the PDF attached, through an SMTP
// server (go-mail), from the outbox's cdr.created events.
//
// The Worker follows the outbox with a cursor kept in the database and
// makes one receipt_emails row per CDR; the rows in state pending are its
// queue, as payments are the payment worker's. Exactly once where SMTP
// allows it: a row is made once per CDR however often the outbox is read,
// a row is sent by one worker at a time (a lease), and once recorded sent
// it is never sent again. SMTP has no idempotency key, so a crash between
// the server's acceptance and the record sends the receipt again after
// the lease; the Message-ID derived from the CDR lets mail clients and
// servers drop the second copy.
//
// Every amount shown is the receipt's exact decimal string: nothing here
// computes a price or a sum.
package mail
