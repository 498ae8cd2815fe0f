"""What the pages compute, as plain functions without Reflex: unit-tested on their own."""
