"""The Raft tester: a port of 6.5840's config.go plus a pytest plugin printing Go's lines."""
