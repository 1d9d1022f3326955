package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/dashboard"
)

// defaultTenant is the tenant serve makes on an empty database; a user is
// made in it when --tenant is left out.
const defaultTenant = "default"

const userUsage = "user: usage: evbill user create --email EMAIL --role ROLE [--tenant NAME] < password\n" +
	"       evbill user password --email EMAIL < password"

// runUser is the "user" command: dashboard users and their passwords. The
// password is read from standard input (its first line), never from a
// flag, which other users of the machine could read in the process list;
// on a terminal it is asked for twice without echo.
func runUser(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return evbill.Errorf(evbill.EINVALID, userUsage)
	}
	switch args[0] {
	case "create":
		return runUserCreate(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "password":
		return runUserPassword(ctx, args[1:], getenv, stdin, stdout, stderr)
	}
	return evbill.Errorf(evbill.EINVALID, userUsage)
}

// runUserCreate is "user create": a user of a tenant (made if it does not
// exist, as `apikey create` does), with a role and a password.
func runUserCreate(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("evbill user create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "the user's email `address`, the login name")
	role := fs.String("role", "", "`role`: admin, operator, finance or readonly")
	tenantName := fs.String("tenant", "", "tenant `name`; created if it does not exist (default: the tenant \""+defaultTenant+"\" serve made)")
	var sf storeFlags
	sf.register(fs, getenv)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return evbill.Errorf(evbill.EINVALID, "user: %v", err)
	}
	addr, err := evbill.NormalizeEmail(*email)
	if err != nil {
		return evbill.Errorf(evbill.EINVALID, "user: --email: %v", err)
	}
	if !evbill.Role(*role).Valid() {
		return evbill.Errorf(evbill.EINVALID, "user: --role must be admin, operator, finance or readonly, not %q", *role)
	}
	pw, err := readPassword(stdin, stderr, "Password for "+addr)
	if err != nil {
		return err
	}
	hash, err := dashboard.HashPassword(pw)
	if err != nil {
		return err
	}
	store, _, err := sf.open(ctx, getenv)
	if err != nil {
		return err
	}
	defer store.Close()
	name := *tenantName
	if name == "" {
		name = defaultTenant
	}
	t, err := store.TenantByName(ctx, name)
	switch {
	case evbill.ErrorCode(err) == evbill.ENOTFOUND && *tenantName == "":
		return evbill.Errorf(evbill.EINVALID, "user: there is no tenant %q: name one with --tenant", defaultTenant)
	case evbill.ErrorCode(err) == evbill.ENOTFOUND:
		t = evbill.Tenant{Name: name}
		err = store.CreateTenant(ctx, &t)
		if err == nil {
			fmt.Fprintf(stdout, "created tenant %q (%s)\n", t.Name, t.ID)
		}
	}
	if err != nil {
		return err
	}
	u := evbill.User{TenantID: t.ID, Email: addr, Role: evbill.Role(*role)}
	if err := store.CreateUser(ctx, &u, hash); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created %s user %s (%s) of tenant %q; log in at the server's address\n", u.Role, u.Email, u.ID, t.Name)
	return nil
}

// runUserPassword is "user password": a new password for a user, which
// also ends the user's logins.
func runUserPassword(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("evbill user password", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "the user's email `address`")
	var sf storeFlags
	sf.register(fs, getenv)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return evbill.Errorf(evbill.EINVALID, "user: %v", err)
	}
	addr, err := evbill.NormalizeEmail(*email)
	if err != nil {
		return evbill.Errorf(evbill.EINVALID, "user: --email: %v", err)
	}
	pw, err := readPassword(stdin, stderr, "New password for "+addr)
	if err != nil {
		return err
	}
	hash, err := dashboard.HashPassword(pw)
	if err != nil {
		return err
	}
	store, _, err := sf.open(ctx, getenv)
	if err != nil {
		return err
	}
	defer store.Close()
	u, _, err := store.UserByEmail(ctx, addr)
	if err != nil {
		return err
	}
	if err := store.SetUserPassword(ctx, u.TenantID, u.ID, hash); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "new password set for %s; their logins have ended\n", u.Email)
	return nil
}

// readPassword reads a password: on a terminal, asked for twice without
// echo (stty; where there is none, the typing shows and a warning says
// so); otherwise the first line of stdin, without its line ending, so
// `evbill user create … < file` and a pipe work.
func readPassword(stdin io.Reader, stderr io.Writer, prompt string) (string, error) {
	if f, ok := stdin.(*os.File); ok && isTerminal(f) {
		echoOff := exec.Command("stty", "-echo")
		echoOff.Stdin = f
		if err := echoOff.Run(); err != nil {
			fmt.Fprintln(stderr, "(the password will show as you type it)")
		} else {
			defer func() {
				echoOn := exec.Command("stty", "echo")
				echoOn.Stdin = f
				_ = echoOn.Run()
			}()
		}
		r := bufio.NewReader(f)
		fmt.Fprint(stderr, prompt+": ")
		pw, err := readLine(r)
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(stderr, "Again: ")
		again, err := readLine(r)
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		if pw != again {
			return "", evbill.Errorf(evbill.EINVALID, "user: the passwords differ")
		}
		return pw, nil
	}
	return readLine(bufio.NewReader(io.LimitReader(stdin, dashboard.MaxPasswordLen+2)))
}

// readLine reads one line, without its "\n" or "\r\n"; EINVALID when
// there is nothing to read.
func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("user: reading the password: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", evbill.Errorf(evbill.EINVALID, "user: no password on standard input")
	}
	return line, nil
}

// isTerminal reports whether f is a terminal (a character device), where
// a person types.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
