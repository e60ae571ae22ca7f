// Package reliability holds Tender's reliability and security suite: tests
// that start real servers and show Tender keeps its promises when things go
// wrong — other tenants probing ids, requests without keys or scopes,
// hostile input, crashes, faulty databases, providers and receivers. The
// package has no code of its own; see docs/reliability.md for how to run
// the full suite and the latest figures.
package reliability
