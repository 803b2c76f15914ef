"""CLI and run orchestration of crm-elt (no HTTP here)."""
