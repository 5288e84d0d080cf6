"""Test helpers shared by the network tests: fake links, relays, minimal states."""
