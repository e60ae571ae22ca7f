package engine

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"

	"github.com/tenderhq/tender"
)

// ProviderConfigParams change a tenant's configuration of one provider;
// nil fields keep their value.
type ProviderConfigParams struct {
	Enabled     *bool
	Priority    *int
	Credentials map[string]string // replaces all credentials when non-nil
	Settings    map[string]string // merged; "" deletes a setting
}

// ProviderConfigView is a provider config as the API shows it: never a secret.
type ProviderConfigView struct {
	Object      string            `json:"object"`
	Provider    string            `json:"provider"`
	Livemode    bool              `json:"livemode"`
	Enabled     bool              `json:"enabled"`
	Priority    int               `json:"priority"`
	Configured  bool              `json:"configured"`
	Credentials map[string]string `json:"credentials"`
	Settings    map[string]string `json:"settings"`
	ValidatedAt *int64            `json:"validated_at"`
	Created     int64             `json:"created"`
	Updated     int64             `json:"updated"`
}

// ViewProviderConfig renders a config.
func ViewProviderConfig(c *tender.ProviderConfig) *ProviderConfigView {
	v := &ProviderConfigView{Object: "provider_config", Provider: c.Provider, Livemode: c.Livemode, Enabled: c.Enabled,
		Priority: c.Priority, Configured: c.SealedCredentials != "" || len(c.Settings) > 0,
		Credentials: c.CredentialHints, Settings: c.Settings, Created: c.Created.Unix(), Updated: c.Updated.Unix()}
	if v.Credentials == nil {
		v.Credentials = map[string]string{}
	}
	if v.Settings == nil {
		v.Settings = map[string]string{}
	}
	if c.ValidatedAt != nil {
		t := c.ValidatedAt.Unix()
		v.ValidatedAt = &t
	}
	return v
}

// Hint shows a secret without revealing it: its prefix up to the last
// underscore (sk_test_), an ellipsis, and its last four characters.
func Hint(secret string) string {
	if len(secret) <= 8 {
		return "…"
	}
	prefix := ""
	if i := strings.LastIndexByte(secret[:min(len(secret)-4, 16)], '_'); i >= 0 {
		prefix = secret[:i+1]
	}
	return prefix + "…" + secret[len(secret)-4:]
}

// checkCredential checks a credential against its field's rules, including
// the mode its prefix implies: a test key only in test mode, a live key
// only in live mode.
func checkCredential(f tender.CredentialField, value string, livemode bool) error {
	param := "credentials[" + f.Key + "]"
	if strings.TrimSpace(value) != value || value == "" {
		return tender.InvalidParam(tender.CodeParameterInvalid, param, "%s must not be empty or have spaces around it.", f.Label)
	}
	if len(value) > 500 {
		return tender.InvalidParam(tender.CodeParameterInvalid, param, "%s is too long.", f.Label)
	}
	if f.Prefix == "" {
		return nil
	}
	mode, other := "test_", "live_"
	if livemode {
		mode, other = "live_", "test_"
	}
	for _, p := range strings.Split(f.Prefix, ",") {
		if strings.HasPrefix(value, p+mode) {
			return nil
		}
		if strings.HasPrefix(value, p+other) {
			return tender.InvalidParam(tender.CodeParameterInvalid, param, "%s is a %skey, but this is %smode: use a %s%s… key.",
				f.Label, strings.TrimSuffix(other, "_")+" ", strings.TrimSuffix(mode, "_")+" ", p, mode)
		}
	}
	return tender.InvalidParam(tender.CodeParameterInvalid, param, "%s must start with %s.", f.Label, strings.ReplaceAll(f.Prefix, ",", mode+" or ")+mode)
}

// PutProviderConfig creates or changes a tenant's configuration of a
// provider. New credentials are checked against the provider's schema,
// validated with the provider when it can (seed 002), then sealed.
func (e *Engine) PutProviderConfig(ctx context.Context, t tender.Tenant, provider string, p ProviderConfigParams) (*tender.ProviderConfig, error) {
	prov, ok := e.providers.Get(provider)
	if !ok {
		return nil, tender.NotFound("provider", provider)
	}
	info := prov.Info()
	if !info.Modes.NeedsConfig {
		return nil, tender.InvalidRequest(tender.CodeParameterInvalid, "The %s provider needs no configuration.", provider)
	}
	if t.Livemode && !info.Modes.Live || !t.Livemode && !info.Modes.Test {
		return nil, tender.InvalidRequest(tender.CodeParameterInvalid, "The %s provider is not available in this mode.", provider)
	}
	now := e.nowUTC()
	cfg, err := e.store.ProviderConfig(ctx, t, provider)
	if errors.Is(err, tender.ErrNotFound) {
		cfg = &tender.ProviderConfig{Tenant: t, Provider: provider, Enabled: true, Created: now}
		if p.Priority == nil {
			// New providers go after the ones already there.
			existing, err := e.store.ProviderConfigs(ctx, t)
			if err != nil {
				return nil, err
			}
			for _, c := range existing {
				cfg.Priority = max(cfg.Priority, c.Priority+10)
			}
		}
	} else if err != nil {
		return nil, err
	}
	if p.Enabled != nil {
		cfg.Enabled = *p.Enabled
	}
	if p.Priority != nil {
		if *p.Priority < 0 || *p.Priority > 1000 {
			return nil, tender.InvalidParam(tender.CodeParameterInvalid, "priority", "priority must be between 0 and 1000.")
		}
		cfg.Priority = *p.Priority
	}
	if p.Settings != nil {
		known := map[string]bool{}
		for _, f := range info.Settings {
			known[f.Key] = true
		}
		for k, v := range p.Settings {
			if !known[k] {
				return nil, tender.InvalidParam(tender.CodeParameterUnknown, "settings["+k+"]", "The %s provider has no setting %s.", provider, k)
			}
			if len(v) > 2000 {
				return nil, tender.InvalidParam(tender.CodeParameterInvalid, "settings["+k+"]", "Settings can be at most 2000 characters.")
			}
		}
		cfg.Settings = MergeMetadata(cfg.Settings, p.Settings)
	}
	for _, f := range info.Settings {
		if f.Required && cfg.Settings[f.Key] == "" && cfg.Enabled {
			return nil, tender.InvalidParam(tender.CodeParameterMissing, "settings["+f.Key+"]", "The %s provider needs the setting %s (%s).", provider, f.Key, f.Label)
		}
	}
	if p.Credentials != nil {
		known := map[string]tender.CredentialField{}
		for _, f := range info.Credentials {
			known[f.Key] = f
		}
		for k := range p.Credentials {
			if _, ok := known[k]; !ok {
				return nil, tender.InvalidParam(tender.CodeParameterUnknown, "credentials["+k+"]", "The %s provider has no credential %s.", provider, k)
			}
		}
		keys := make([]string, 0, len(known))
		for k := range known {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		hints := map[string]string{}
		for _, k := range keys {
			f := known[k]
			v, given := p.Credentials[k]
			if !given {
				// Required secrets must be given; a missing public credential
				// (Stripe's publishable key) is allowed, and reported where a
				// browser flow needs it: seed 001 configures Stripe without one.
				if f.Required && f.Encrypted {
					return nil, tender.MissingParam("credentials[" + k + "]")
				}
				continue
			}
			if err := checkCredential(f, v, t.Livemode); err != nil {
				return nil, err
			}
			if f.Encrypted {
				hints[k] = Hint(v)
			} else {
				hints[k] = v
			}
		}
		if info.Validate != nil {
			vctx, cancel := e.withTimeout(ctx)
			err := info.Validate(vctx, t.Livemode, p.Credentials)
			cancel()
			if err != nil {
				if te, ok := tender.AsError(err); ok {
					return nil, te
				}
				return nil, &tender.Error{Type: tender.APIError, Code: "provider_unreachable",
					Message: "Could not reach " + info.Name + " to validate the credentials; try again.", Cause: err}
			}
			cfg.ValidatedAt = &now
		}
		plain, _ := json.Marshal(p.Credentials)
		sealed, err := e.keyring.Seal(plain, tender.CredentialsAAD(t, provider))
		if err != nil {
			return nil, err
		}
		cfg.SealedCredentials, cfg.CredentialHints = sealed, hints
	}
	if cfg.SealedCredentials == "" {
		for _, f := range info.Credentials {
			if f.Required && f.Encrypted && cfg.Enabled {
				return nil, tender.MissingParam("credentials[" + f.Key + "]")
			}
		}
	}
	cfg.Updated = now
	err = e.store.InTx(ctx, func(tx tender.PaymentTx) error { return tx.PutProviderConfig(ctx, cfg) })
	return cfg, err
}

// ProviderConfig returns a tenant's configuration of a provider.
func (e *Engine) ProviderConfig(ctx context.Context, t tender.Tenant, provider string) (*tender.ProviderConfig, error) {
	cfg, err := e.store.ProviderConfig(ctx, t, provider)
	return cfg, notFound(err, "provider_config", provider)
}

// DeleteProviderConfig removes a tenant's configuration of a provider.
func (e *Engine) DeleteProviderConfig(ctx context.Context, t tender.Tenant, provider string) error {
	err := e.store.InTx(ctx, func(tx tender.PaymentTx) error { return tx.DeleteProviderConfig(ctx, t, provider) })
	return notFound(err, "provider_config", provider)
}

// ProviderCredentials opens a tenant's credentials for a provider (for the
// few places that must hand one to a browser, such as Stripe's publishable
// key, which is not secret). It returns nil when none are configured.
func (e *Engine) ProviderCredentials(ctx context.Context, t tender.Tenant, provider string) (tender.Credentials, error) {
	cfg, err := e.store.ProviderConfig(ctx, t, provider)
	if errors.Is(err, tender.ErrNotFound) || (err == nil && cfg.SealedCredentials == "") {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return e.openCredentials(cfg)
}
