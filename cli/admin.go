package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tenderhq/tender"
	"github.com/tenderhq/tender/sqlstore"
)

// adminStore opens and migrates the configured database for a one-off command.
func adminStore(ctx context.Context, env envFunc, stderr io.Writer) (*sqlstore.DB, error) {
	c, err := loadConfig(env)
	if err != nil {
		return nil, err
	}
	return openStore(ctx, c, newLogger(c, stderr))
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func subcommand(args []string, stdout, stderr io.Writer, help string) (string, []string, error) {
	if len(args) == 0 {
		fmt.Fprint(stderr, help)
		return "", nil, usageError{}
	}
	if args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
		fmt.Fprint(stdout, help)
		return "", nil, errHelp
	}
	return args[0], args[1:], nil
}

const merchantsHelp = `Usage:
  tender merchants create --name NAME [--json]   create a merchant with test and live keys
  tender merchants list [--json]                 list merchants
`

// newMerchant is what `merchants create` prints: the keys, shown once.
type newMerchant struct {
	ID                 string `json:"id"`
	Name               string `json:"name"`
	TestSecretKey      string `json:"test_secret_key"`
	TestPublishableKey string `json:"test_publishable_key"`
	LiveSecretKey      string `json:"live_secret_key,omitempty"`
	LivePublishableKey string `json:"live_publishable_key,omitempty"`
}

// createMerchant makes a merchant with a secret and a publishable key for
// each mode (test only, if live is false).
func createMerchant(ctx context.Context, db tender.MerchantStore, name string, live bool) (*newMerchant, error) {
	now := time.Now()
	m := &tender.Merchant{ID: tender.NewID(tender.PrefixMerchant), Name: name, Created: now}
	out := &newMerchant{ID: m.ID, Name: name}
	var keys []*tender.APIKey
	add := func(kind tender.KeyKind, livemode bool, dst *string) {
		k, plain := tender.NewAPIKey(m.ID, kind, livemode, nil, now)
		keys = append(keys, k)
		*dst = plain
	}
	add(tender.SecretKey, false, &out.TestSecretKey)
	add(tender.PublishableKey, false, &out.TestPublishableKey)
	if live {
		add(tender.SecretKey, true, &out.LiveSecretKey)
		add(tender.PublishableKey, true, &out.LivePublishableKey)
	}
	if err := db.CreateMerchant(ctx, m, keys); err != nil {
		return nil, err
	}
	return out, nil
}

func cmdMerchants(ctx context.Context, args []string, env envFunc, stdout, stderr io.Writer) error {
	sub, rest, err := subcommand(args, stdout, stderr, merchantsHelp)
	if err != nil {
		return helpOK(err)
	}
	switch sub {
	case "create":
		fs := newFlags("merchants create", "merchants create --name NAME [--json]", stderr)
		name := fs.String("name", "", "the merchant's name (required)")
		asJSON := fs.Bool("json", false, "print one JSON object")
		if err := parseFlags(fs, rest, stdout, stderr); err != nil {
			return helpOK(err)
		}
		*name = strings.TrimSpace(*name)
		if *name == "" || fs.NArg() > 0 {
			fs.SetOutput(stderr)
			fs.Usage()
			return usageError{"merchants create needs --name NAME"}
		}
		db, err := adminStore(ctx, env, stderr)
		if err != nil {
			return err
		}
		defer db.Close()
		nm, err := createMerchant(ctx, db, *name, true)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, nm)
		}
		fmt.Fprintf(stdout, "Created merchant %s (%s). These keys are shown once; store them now.\n\n", nm.ID, nm.Name)
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "test secret key\t%s\n", nm.TestSecretKey)
		fmt.Fprintf(tw, "test publishable key\t%s\n", nm.TestPublishableKey)
		fmt.Fprintf(tw, "live secret key\t%s\n", nm.LiveSecretKey)
		fmt.Fprintf(tw, "live publishable key\t%s\n", nm.LivePublishableKey)
		return tw.Flush()
	case "list":
		fs := newFlags("merchants list", "merchants list [--json]", stderr)
		asJSON := fs.Bool("json", false, "print a JSON array")
		if err := parseFlags(fs, rest, stdout, stderr); err != nil {
			return helpOK(err)
		}
		db, err := adminStore(ctx, env, stderr)
		if err != nil {
			return err
		}
		defer db.Close()
		ms, err := db.Merchants(ctx)
		if err != nil {
			return err
		}
		type row struct {
			ID      string `json:"id"`
			Name    string `json:"name"`
			Created int64  `json:"created"`
		}
		rows := make([]row, 0, len(ms))
		for _, m := range ms {
			rows = append(rows, row{m.ID, m.Name, m.Created.Unix()})
		}
		if *asJSON {
			return printJSON(stdout, rows)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tCREATED")
		for _, m := range ms {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", m.ID, m.Name, m.Created.Format(time.RFC3339))
		}
		return tw.Flush()
	}
	fmt.Fprint(stderr, merchantsHelp)
	return usageError{fmt.Sprintf("unknown merchants command %q", sub)}
}

const keysHelp = `Usage:
  tender keys create --merchant ID --mode test|live --scopes s1,s2 [--json]   create a restricted key
  tender keys list --merchant ID [--json]                                      list a merchant's keys
  tender keys revoke KEY_ID                                                    revoke a key
  tender keys rotate-master --new-key-file FILE                                re-encrypt every secret under a new master key

Scopes: payments:read, payments:write, merchant:read, merchant:write, webhooks:read, webhooks:write
`

// keyView is how a stored key is listed: never the key itself.
type keyView struct {
	ID         string   `json:"id"`
	MerchantID string   `json:"merchant_id"`
	Kind       string   `json:"kind"`
	Livemode   bool     `json:"livemode"`
	Redacted   string   `json:"redacted"`
	Scopes     []string `json:"scopes,omitempty"`
	Created    int64    `json:"created"`
	LastUsed   *int64   `json:"last_used,omitempty"`
	Revoked    *int64   `json:"revoked,omitempty"`
}

func viewKey(k *tender.APIKey) keyView {
	v := keyView{ID: k.ID, MerchantID: k.MerchantID, Kind: string(k.Kind), Livemode: k.Livemode,
		Redacted: k.Redacted(), Created: k.Created.Unix()}
	for _, s := range k.Scopes {
		v.Scopes = append(v.Scopes, string(s))
	}
	if k.LastUsedAt != nil {
		t := k.LastUsedAt.Unix()
		v.LastUsed = &t
	}
	if k.RevokedAt != nil {
		t := k.RevokedAt.Unix()
		v.Revoked = &t
	}
	return v
}

func cmdKeys(ctx context.Context, args []string, env envFunc, stdout, stderr io.Writer) error {
	sub, rest, err := subcommand(args, stdout, stderr, keysHelp)
	if err != nil {
		return helpOK(err)
	}
	switch sub {
	case "create":
		fs := newFlags("keys create", "keys create --merchant ID --mode test|live --scopes s1,s2 [--json]", stderr)
		merchant := fs.String("merchant", "", "merchant id (required)")
		mode := fs.String("mode", "test", "test or live")
		scopes := fs.String("scopes", "", "comma-separated scopes (required)")
		asJSON := fs.Bool("json", false, "print one JSON object")
		if err := parseFlags(fs, rest, stdout, stderr); err != nil {
			return helpOK(err)
		}
		if *merchant == "" || *scopes == "" || fs.NArg() > 0 {
			fs.SetOutput(stderr)
			fs.Usage()
			return usageError{"keys create needs --merchant and --scopes"}
		}
		if *mode != "test" && *mode != "live" {
			return usageError{fmt.Sprintf("--mode must be test or live, not %q", *mode)}
		}
		sc, err := tender.ParseScopes(*scopes)
		if err != nil {
			var te *tender.Error
			if errors.As(err, &te) {
				return usageError{te.Message}
			}
			return err
		}
		db, err := adminStore(ctx, env, stderr)
		if err != nil {
			return err
		}
		defer db.Close()
		k, plain := tender.NewAPIKey(*merchant, tender.RestrictedKey, *mode == "live", sc, time.Now())
		if err := db.CreateAPIKey(ctx, k); err != nil {
			if errors.Is(err, tender.ErrNotFound) {
				return fmt.Errorf("no merchant %s", *merchant)
			}
			return err
		}
		if *asJSON {
			v := viewKey(k)
			return printJSON(stdout, struct {
				keyView
				Key string `json:"key"`
			}{v, plain})
		}
		fmt.Fprintf(stdout, "Created restricted key %s with scopes %s. It is shown once; store it now:\n\n  %s\n", k.ID, *scopes, plain)
		return nil
	case "list":
		fs := newFlags("keys list", "keys list --merchant ID [--json]", stderr)
		merchant := fs.String("merchant", "", "merchant id (required)")
		asJSON := fs.Bool("json", false, "print a JSON array")
		if err := parseFlags(fs, rest, stdout, stderr); err != nil {
			return helpOK(err)
		}
		if *merchant == "" {
			fs.SetOutput(stderr)
			fs.Usage()
			return usageError{"keys list needs --merchant"}
		}
		db, err := adminStore(ctx, env, stderr)
		if err != nil {
			return err
		}
		defer db.Close()
		if _, err := db.Merchant(ctx, *merchant); err != nil {
			if errors.Is(err, tender.ErrNotFound) {
				return fmt.Errorf("no merchant %s", *merchant)
			}
			return err
		}
		keys, err := db.APIKeys(ctx, *merchant)
		if err != nil {
			return err
		}
		views := make([]keyView, 0, len(keys))
		for _, k := range keys {
			views = append(views, viewKey(k))
		}
		if *asJSON {
			return printJSON(stdout, views)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKEY\tSCOPES\tCREATED\tSTATUS")
		for _, k := range keys {
			status := "active"
			if k.RevokedAt != nil {
				status = "revoked " + k.RevokedAt.Format(time.RFC3339)
			}
			scopes := "all"
			if k.Kind == tender.PublishableKey {
				scopes = "browser"
			} else if k.Kind == tender.RestrictedKey {
				scopes = viewKey(k).scopeList()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Redacted(), scopes, k.Created.Format(time.RFC3339), status)
		}
		return tw.Flush()
	case "revoke":
		fs := newFlags("keys revoke", "keys revoke KEY_ID", stderr)
		if err := parseFlags(fs, rest, stdout, stderr); err != nil {
			return helpOK(err)
		}
		if fs.NArg() != 1 {
			fs.SetOutput(stderr)
			fs.Usage()
			return usageError{"keys revoke needs one KEY_ID"}
		}
		db, err := adminStore(ctx, env, stderr)
		if err != nil {
			return err
		}
		defer db.Close()
		k, err := db.RevokeAPIKey(ctx, fs.Arg(0), time.Now())
		if errors.Is(err, tender.ErrNotFound) {
			return fmt.Errorf("no key %s", fs.Arg(0))
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Revoked %s (%s).\n", k.ID, k.Redacted())
		return nil
	}
	if sub == "rotate-master" {
		return cmdRotateMaster(ctx, rest, env, stdout, stderr)
	}
	fmt.Fprint(stderr, keysHelp)
	return usageError{fmt.Sprintf("unknown keys command %q", sub)}
}

func (v keyView) scopeList() string { return strings.Join(v.Scopes, ",") }

// devMerchant makes sure a newcomer has a merchant to try: on the first run
// it creates one and prints its test keys (never live keys) once; later it
// says how to find them.
func devMerchant(ctx context.Context, db *sqlstore.DB, stdout io.Writer, addr string) error {
	ms, err := db.Merchants(ctx)
	if err != nil {
		return err
	}
	if len(ms) > 0 {
		fmt.Fprintf(stdout, `Tender dev server. Merchant %s (%s) exists.
Keys are shown only when created. List them:   go run ./cmd/tender keys list --merchant %s
Make a new restricted key:                    go run ./cmd/tender keys create --merchant %s --mode test --scopes payments:read,payments:write
`, ms[0].ID, ms[0].Name, ms[0].ID, ms[0].ID)
		return nil
	}
	nm, err := createMerchant(ctx, db, "Demo Store", false)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, `Tender dev server: created the demo merchant %s.
Its test-mode keys are shown this once; save them:

  secret key:       %s
  publishable key:  %s

Try it:

  curl -u %s: http://%s/v1/account

`, nm.ID, nm.TestSecretKey, nm.TestPublishableKey, nm.TestSecretKey, addr)
	return nil
}
