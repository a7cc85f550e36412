// Package dummy holds the end-to-end tests of dummy-service,
// debug-producer and broker: they build the programs and run them as a
// user does, against an embedded broker with TLS and SCRAM-SHA-512.
package dummy
