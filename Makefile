# Tender's developer commands. CI runs .ci/run, which uses the same test command.
GO ?= go
MERCHANT ?=
MODE ?= test
SCOPES ?= payments:read,payments:write,merchant:read,merchant:write,webhooks:read

.PHONY: build run dev test createapikey vet

build:
	$(GO) build -o bin/tender ./cmd/tender

dev:
	$(GO) run ./cmd/tender dev

run: dev

test:
	$(GO) test -race ./...

vet:
	$(GO) vet ./...

# Seed 001's command: a restricted API key for a merchant.
#   make createapikey MERCHANT=mer_… [MODE=test|live] [SCOPES=a,b]
createapikey:
	@if [ -z "$(MERCHANT)" ]; then echo "usage: make createapikey MERCHANT=mer_… [MODE=test|live] [SCOPES=$(SCOPES)]"; echo "merchants:"; $(GO) run ./cmd/tender merchants list; exit 2; fi
	$(GO) run ./cmd/tender keys create --merchant $(MERCHANT) --mode $(MODE) --scopes $(SCOPES)
