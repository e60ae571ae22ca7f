package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tenderhq/tender/vault"
)

// cmdRotateMaster re-encrypts every secret under a new master key. It is
// safe to interrupt and run again: it only touches secrets not yet sealed
// under the new key, and each swap is compare-and-set. Instances should run
// with TENDER_MASTER_KEY=<new> and TENDER_MASTER_KEY_PREVIOUS=<old> from
// the start of the rotation until it is done, so they read both.
func cmdRotateMaster(ctx context.Context, args []string, env envFunc, stdout, stderr io.Writer) error {
	fs := newFlags("keys rotate-master", "keys rotate-master --new-key-file FILE", stderr)
	file := fs.String("new-key-file", "", "file holding the new master key (base64 of 32 bytes; required)")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return helpOK(err)
	}
	if *file == "" || fs.NArg() > 0 {
		fs.SetOutput(stderr)
		fs.Usage()
		return usageError{"keys rotate-master needs --new-key-file"}
	}
	raw, err := os.ReadFile(*file)
	if err != nil {
		return fmt.Errorf("read new key: %w", err)
	}
	newKey, err := vault.ParseKey(string(raw))
	if err != nil {
		return fmt.Errorf("new key file %s: %w", *file, err)
	}
	c, err := loadConfig(env)
	if err != nil {
		return err
	}
	log := newLogger(c, stderr)
	db, err := openStore(ctx, c, log)
	if err != nil {
		return err
	}
	defer db.Close()
	current, err := masterKey(c, db, log)
	if err != nil {
		return err
	}
	older, err := previousKeys(c)
	if err != nil {
		return err
	}
	ring, err := vault.New(newKey, append([][]byte{current}, older...)...)
	if err != nil {
		return err
	}
	newID := vault.KeyID(newKey)
	done, start := 0, time.Now()
	for {
		batch, err := db.SealedSecrets(ctx, newID, 100)
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			break
		}
		progress := 0
		for _, s := range batch {
			pt, err := ring.Open(s.Ciphertext, s.AAD())
			if err != nil {
				return fmt.Errorf("open %s %s of %s: %w (is the current key in TENDER_MASTER_KEY or TENDER_MASTER_KEY_PREVIOUS?)", s.Kind, s.ID, s.Tenant.MerchantID, err)
			}
			ct, err := ring.Seal(pt, s.AAD())
			if err != nil {
				return err
			}
			ok, err := db.ResealSecret(ctx, s, ct)
			if err != nil {
				return err
			}
			if ok {
				done++
				progress++
			}
		}
		if progress == 0 {
			// Everything in the batch changed under us; look again.
			time.Sleep(50 * time.Millisecond)
		}
	}
	fmt.Fprintf(stdout, "Re-encrypted %d secrets under key %s in %s.\n", done, newID, time.Since(start).Round(time.Millisecond))
	if c.masterKey == "" && db.SQLitePath() != "" {
		path := keyFilePath(db)
		if err := os.WriteFile(path+".previous", []byte(vault.EncodeKey(current)+"\n"), 0o600); err != nil {
			return fmt.Errorf("keep the previous key: %w", err)
		}
		tmp := path + ".new"
		if err := os.WriteFile(tmp, []byte(vault.EncodeKey(newKey)+"\n"), 0o600); err != nil {
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "The key file %s now holds the new key (the old one is in %s.previous).\n", path, path)
		return nil
	}
	fmt.Fprintln(stdout, "Now run every instance with TENDER_MASTER_KEY set to the new key, and drop TENDER_MASTER_KEY_PREVIOUS.")
	return nil
}
